/**
 * ESO's `remoteRef.property` -> our key mapping. ESO reads a JSON secret's property with gjson syntax
 * (github.com/tidwall/gjson SYNTAX.md): parts joined by `.`, a literal dot escaped as `\.`, `*` and `?` wildcards,
 * `#` for array length and queries, `|` pipes, `@` modifiers, and a number that indexes an array (or names an
 * object key, which gjson decides from the value). Plain parts map onto a top-level JSON key, or a dotted
 * `{ path }` (which decides a number the same way), or `{ jmespath }` where a part holds a dot (a quoted identifier,
 * `a."tls.crt"`; a number is then ambiguous, as it is in a template variable); the rest cannot be.
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
  return { parts };
}

/** gjson reads `a.0` as an array index on an array and as a key on an object; JMESPath must say which. */
const NUMERIC_PROBLEM = {
  problem: 'has a numeric part (an array index or a key, which gjson decides from the value) next to a key with dots',
};
const isNumeric = (part: string): boolean => /^\d+$/.test(part);

/** A JSON key a target's `keys` map can name directly (the schema's `dataKey`). */
const TOP_LEVEL_KEY = /^[-._a-zA-Z0-9]+$/;
/** A JMESPath unquoted identifier; anything else is written as a quoted identifier. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The parts as one JMESPath expression: `certs."tls.crt"`, `db.host`. */
function jmespathOf(parts: readonly string[]): string {
  return parts.map((p) => (IDENTIFIER.test(p) ? p : JSON.stringify(p))).join('.');
}

/**
 * `property` as a target key mapping: a top-level JSON key; a dotted `{ path }` when no part holds a dot; else
 * `{ jmespath }` with the parts that are not identifiers quoted. Or why it has no equivalent.
 */
export function propertyKeyRef(
  property: string,
): { ref: string | { path: string } | { jmespath: string } } | { problem: string } {
  const parsed = gjsonParts(property);
  if ('problem' in parsed) return parsed;
  const [first, ...rest] = parsed.parts as [string, ...string[]];
  if (rest.length === 0 && TOP_LEVEL_KEY.test(first)) return { ref: first };
  if (parsed.parts.every((p) => !p.includes('.'))) return { ref: { path: parsed.parts.join('.') } };
  if (parsed.parts.some(isNumeric)) return NUMERIC_PROBLEM;
  return { ref: { jmespath: jmespathOf(parsed.parts) } };
}

/**
 * `property` as a template variable: our template variables are JMESPath expressions over the secret's JSON, with
 * ESO's leading `.` allowed (`.db.user`, `.certs."tls.crt"`). Or why not: a brace would end the tag.
 */
export function propertyVariable(property: string): { variable: string } | { problem: string } {
  const parsed = gjsonParts(property);
  if ('problem' in parsed) return parsed;
  if (parsed.parts.some((p) => /[{}]/.test(p))) {
    return { problem: 'has a part with a brace, which a template tag cannot hold' };
  }
  if (parsed.parts.slice(1).some(isNumeric)) {
    return { problem: 'has a numeric part (an array index or a key, which gjson decides from the value)' };
  }
  return { variable: `.${jmespathOf(parsed.parts)}` };
}
