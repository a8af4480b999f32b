/**
 * Templates in `keys` (`{ template: "postgres://{{ .username }}:{{ .password }}@{{ .host }}/app" }`), parsed with
 * mustache and rendered by plain concatenation: only variables and comments are accepted (no sections, inverted
 * sections, partials or delimiter changes), values are inserted raw (never HTML-escaped), and nothing from
 * configuration is ever called. A variable is a JMESPath expression over the secret's JSON; a leading `.` (ESO's
 * Go-template style) is dropped, so `{{ .username }}` and `{{ username }}` read the same key.
 */
import mustache from 'mustache';
import { jmespathProblem } from './jmespath.js';

/** A template as text and variables, in order. `tag` is the variable as written, for messages. */
export type TemplatePart = { text: string } | { tag: string; expression: string };

export type ParsedTemplate = { parts: TemplatePart[] } | { problem: string };

/** mustache's token types we refuse, named as people write them. */
const UNSUPPORTED: Record<string, string> = {
  '#': 'sections ({{#name}}...{{/name}})',
  '^': 'inverted sections ({{^name}}...{{/name}})',
  '>': 'partials ({{> name}})',
  '=': 'delimiter changes ({{=<% %>=}})',
};

/** The tag as written, for messages: the configuration's own text, never a value. */
function tagText(type: string, name: string): string {
  if (type === 'name') return `{{ ${name} }}`;
  if (type === '&') return `{{{ ${name} }}}`;
  return `{{${type}${name}}}`;
}

/** The JMESPath expression a variable names. */
function expressionOf(name: string): string {
  return name.startsWith('.') ? name.slice(1) : name;
}

/** Parses and checks a template; the problem names the offending tag. */
export function parseTemplate(template: string): ParsedTemplate {
  let tokens: ReturnType<typeof mustache.parse>;
  try {
    tokens = mustache.parse(template);
  } catch (error) {
    // mustache's messages give a position and a section name: configuration text, not secret data.
    return { problem: `is not a valid template: ${(error as Error).message}` };
  }
  const parts: TemplatePart[] = [];
  for (const token of tokens) {
    const [type, value] = token;
    if (type === 'text') parts.push({ text: value });
    else if (type === '!')
      continue; // a comment renders as nothing
    else if (type === 'name' || type === '&') {
      const tag = tagText(type, value);
      const expression = expressionOf(value);
      if (expression === '') return { problem: `tag ${tag} names no key` };
      const problem = jmespathProblem(expression);
      if (problem !== undefined) return { problem: `tag ${tag}: ${JSON.stringify(expression)} ${problem}` };
      parts.push({ tag, expression });
    } else {
      const what = UNSUPPORTED[type] ?? `"${type}" tags`;
      return {
        problem: `tag ${tagText(type, value)} is not supported: templates take variables only, not ${what}`,
      };
    }
  }
  return { parts };
}

/** Why a template is refused at load, or undefined. */
export function templateProblem(template: string): string | undefined {
  const parsed = parseTemplate(template);
  return 'problem' in parsed ? parsed.problem : undefined;
}
