/**
 * ESO's `remoteRef.property` -> our key mapping. ESO reads a JSON secret's property with gjson syntax
 * (github.com/tidwall/gjson SYNTAX.md): parts joined by `.`, a literal dot escaped as `\.`, `*` and `?` wildcards,
 * `#` for array length and queries, `|` pipes, `@` modifiers, and a number that indexes an array (or names an
 * object key, which gjson decides from the value). Plain parts map onto a top-level JSON key or a `{ path }`
 * (JMESPath: a part that is not an identifier is a quoted identifier, `a."tls.crt"`); the rest cannot be.
 */

/** The parts of a gjson path with `\` escapes resolved, or why it has no equivalent. */
export function gjsonParts(property: string): { parts: string[] } | { problem: string } {
  const parts: string[] = [];
  let part = '';
  for (let i = 0; i < property.length; i++) {
    const c = property[i] as string;
    if (c === '\\') {
      const next = property[i + 1];
      if (next === undefined) return { problem: 'ends with a lone "\\"' };
      part += next;
      i++;
    } else if (c === '.') {
      parts.push(part);
      part = '';
    } else if ('*?#|@!{}[]()=<>~,'.includes(c)) {
      return { problem: `uses gjson's "${c}" (wildcards, queries, pipes or modifiers have no equivalent)` };
    } else {
      part += c;
    }
  }
  parts.push(part);
  if (parts.some((p) => p === '')) return { problem: 'has an empty path part' };
  // gjson reads `a.0` as an array index on an array and as a key on an object; which one depends on the value.
  if (parts.some((p) => /^\d+$/.test(p))) {
    return { problem: 'has a numeric part (an array index or a key, which gjson decides from the value)' };
  }
  return { parts };
}

/** A JSON key a target's `keys` map can name directly (the schema's `dataKey`). */
const TOP_LEVEL_KEY = /^[-._a-zA-Z0-9]+$/;
/** A JMESPath unquoted identifier; anything else is written as a quoted identifier. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `property` as a target key mapping: a top-level JSON key, or `{ path }` in JMESPath; or why not. */
export function propertyKeyRef(property: string): { ref: string | { path: string } } | { problem: string } {
  const parsed = gjsonParts(property);
  if ('problem' in parsed) return parsed;
  const [first, ...rest] = parsed.parts as [string, ...string[]];
  if (rest.length === 0 && TOP_LEVEL_KEY.test(first)) return { ref: first };
  const path = parsed.parts.map((p) => (IDENTIFIER.test(p) ? p : JSON.stringify(p))).join('.');
  return { ref: { path } };
}

/**
 * `property` as a template variable (`.a.b`: nested names, as mustache's dotted names read them); or why not: a
 * part holding a dot, a space or braces cannot be named in a template.
 */
export function propertyVariable(property: string): { variable: string } | { problem: string } {
  const parsed = gjsonParts(property);
  if ('problem' in parsed) return parsed;
  if (parsed.parts.some((p) => /[.\s{}]/.test(p))) {
    return { problem: 'has a part with a dot, space or brace, which a template variable cannot name' };
  }
  return { variable: `.${parsed.parts.join('.')}` };
}
