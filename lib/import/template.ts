/**
 * ESO's `target.template.data` values are Go templates (engine v2: text/template with Sprig functions) over the
 * ExternalSecret's data keys: `{{ .username }}` is the value `data[]` put under `secretKey: username`, or a key of
 * an extracted secret. Our templates are logic-less (mustache) over the source secret's JSON keys, so only plain
 * `{{ .name }}` actions carry over, each rewritten to the JSON key or property it comes from; functions, pipelines,
 * conditions, ranges, comments and whitespace trimming (`{{-`, `-}}`) do not. Nothing here returns template text
 * in a message: a template may embed a value.
 */

/** Where a template variable of the ExternalSecret comes from, as a variable of our template. */
export type VariableSource = (name: string) => { variable: string } | { problem: string };

export type TemplateResult = { template: string } | { problem: string };

const ACTION = /\{\{([\s\S]*?)\}\}/g;
const PLAIN_FIELD = /^\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*$/;

/** Rewrites one Go template into our template form, or says why it cannot be (naming variables, never text). */
export function rewriteTemplate(text: string, variables: VariableSource): TemplateResult {
  const actions = [...text.matchAll(ACTION)];
  if (actions.length === 0) {
    return { problem: 'is a literal value (not copied: put it in the source secret and map its key)' };
  }
  for (const [, body = ''] of actions) {
    if (body.startsWith('-') || body.endsWith('-')) {
      return { problem: 'trims whitespace with "{{-" or "-}}", which has no equivalent' };
    }
    if (body.trimStart().startsWith('/*')) return { problem: 'has a template comment, which has no equivalent' };
    if (!PLAIN_FIELD.test(body)) {
      return {
        problem: 'uses template functions, pipelines or actions other than {{ .key }} (only plain keys carry over)',
      };
    }
  }
  const problems: string[] = [];
  const rewritten = text.replace(ACTION, (_action, body: string) => {
    const name = PLAIN_FIELD.exec(body)?.[1] as string;
    const source = variables(name);
    if ('problem' in source) {
      problems.push(`{{ .${name} }} ${source.problem}`);
      return '';
    }
    return `{{ ${source.variable} }}`;
  });
  if (problems.length > 0) return { problem: problems.join('; ') };
  return { template: rewritten };
}
