/**
 * JMESPath over a secret's JSON (Powertools' implementation, https://jmespath.org/specification.html), for keys
 * that a dotted path cannot reach, such as `tls."tls.crt"`. A pure query language: it reads the document and
 * nothing else, so an expression from configuration runs no code.
 */
import { JMESPathError, JMESPathTypeError, LexerError, search } from '@aws-lambda-powertools/jmespath';

/** The library's message without its generic prefix and the expression it appends (the caller names that). */
function reason(error: JMESPathError): string {
  const text = error.message
    .replace(/^(invalid|bad) jmespath expression:?\s*/i, '')
    .replace(/ in expression: [\s\S]*$/, '');
  // The usual mistake: a key that is not a bare identifier, such as `my-key` or `tls.crt`, must be quoted.
  return error instanceof LexerError ? `${text} (quote a key that is not a plain identifier: "my-key")` : text;
}

/**
 * Runs an expression. The library's parse cache is a plain object keyed by expression text, so `constructor` or
 * `__proto__` would find Object.prototype's members there; a trailing space keeps the meaning and misses them.
 */
function run(expression: string, document: object): unknown {
  return search(expression in {} ? `${expression} ` : expression, document);
}

/**
 * A secret's JSON for searchJson: objects without a prototype, so that a field such as `constructor` finds only
 * the secret's own keys (the library tests fields with `in`).
 */
export function parseForSearch(text: string): object {
  return JSON.parse(text, (_key, value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.assign(Object.create(null) as object, value)
      : value,
  ) as object;
}

/** Why an expression is not valid JMESPath (parse errors, unknown functions, wrong arity), or undefined. */
export function jmespathProblem(expression: string): string | undefined {
  try {
    // Evaluating against an empty object parses the expression and resolves its functions; a type error depends
    // on the data, so it is left for the render to report.
    run(expression, Object.create(null) as object);
    return undefined;
  } catch (error) {
    if (error instanceof JMESPathTypeError) return undefined;
    if (error instanceof JMESPathError) return `is not a valid JMESPath expression: ${reason(error)}`;
    throw error;
  }
}

/** The text of what an expression found, or why it found none; a reason never quotes the data. */
export type JmespathResult = { found: true; text: string } | { found: false; reason: 'missing' | 'type' };

/**
 * Evaluates an expression that jmespathProblem accepted over parseForSearch's output. A string is taken as it is,
 * anything else as compact JSON (re-serialised, so unlike a dotted path it keeps neither the stored spacing nor
 * digits beyond a double's precision); null, JMESPath's "nothing there", is `missing`.
 */
export function searchJson(expression: string, document: object): JmespathResult {
  try {
    const value = run(expression, document);
    const text = typeof value === 'string' ? value : (JSON.stringify(value ?? null) as string | undefined);
    return text === undefined || text === 'null' ? { found: false, reason: 'missing' } : { found: true, text };
  } catch (error) {
    // The library's message describes types, but it is dropped anyway: a message here must not risk a value.
    if (error instanceof JMESPathTypeError) return { found: false, reason: 'type' };
    throw error;
  }
}
