/**
 * JSON values as text slices of the document they came from, so a value is synced exactly as stored:
 * `JSON.parse` turns `12345678901234567890` into `12345678901234567000` and `0.10` into `0.1`, and re-serialising
 * an object changes its spacing. Only valid JSON is scanned (the caller has `JSON.parse`d it first), members are
 * read lazily, one level at a time, and nothing recurses on the document's nesting depth.
 */

/** One JSON value inside `text`: `[start, end)` is its exact source text. */
export interface JsonSlice {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

export type JsonKind = 'object' | 'array' | 'string' | 'null' | 'scalar';

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

function skipWhitespace(text: string, i: number): number {
  let at = i;
  while (at < text.length && WHITESPACE.has(text.charAt(at))) at++;
  return at;
}

/** End (exclusive) of the string token starting at `i` (an opening quote). */
function stringEnd(text: string, i: number): number {
  let at = i + 1;
  while (at < text.length) {
    const c = text.charAt(at);
    if (c === '\\') at += 2;
    else if (c === '"') return at + 1;
    else at++;
  }
  return at;
}

/** End (exclusive) of the value starting at `i`; containers are matched with a depth counter. */
function valueEnd(text: string, i: number): number {
  const first = text.charAt(i);
  if (first === '"') return stringEnd(text, i);
  if (first !== '{' && first !== '[') {
    let at = i;
    while (at < text.length && !WHITESPACE.has(text.charAt(at)) && !',]}'.includes(text.charAt(at))) at++;
    return at;
  }
  let depth = 0;
  let at = i;
  while (at < text.length) {
    const c = text.charAt(at);
    if (c === '"') {
      at = stringEnd(text, at);
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return at + 1;
    }
    at++;
  }
  return at;
}

/** The whole document as a slice (surrounding whitespace excluded). */
export function documentSlice(text: string): JsonSlice {
  const start = skipWhitespace(text, 0);
  return { text, start, end: valueEnd(text, start) };
}

export function kindOf(slice: JsonSlice): JsonKind {
  const first = slice.text.charAt(slice.start);
  if (first === '{') return 'object';
  if (first === '[') return 'array';
  if (first === '"') return 'string';
  if (first === 'n') return 'null';
  return 'scalar';
}

/** The exact source text of a value. */
export function sourceText(slice: JsonSlice): string {
  return slice.text.slice(slice.start, slice.end);
}

/** The decoded value of a string slice. */
export function stringValue(slice: JsonSlice): string {
  return JSON.parse(sourceText(slice)) as string;
}

/**
 * The members of an object slice, in document order, keys decoded. A duplicated key keeps its last value, as
 * `JSON.parse` does. A Map, so that a key such as `__proto__` is an ordinary entry.
 */
export function objectMembers(slice: JsonSlice): Map<string, JsonSlice> {
  const { text } = slice;
  const members = new Map<string, JsonSlice>();
  let at = skipWhitespace(text, slice.start + 1);
  while (at < slice.end && text.charAt(at) === '"') {
    const keyEnd = stringEnd(text, at);
    const key = JSON.parse(text.slice(at, keyEnd)) as string;
    const start = skipWhitespace(text, skipWhitespace(text, keyEnd) + 1); // past the colon
    const end = valueEnd(text, start);
    members.set(key, { text, start, end }); // a duplicate keeps its first position and its last value
    at = skipWhitespace(text, end);
    if (text.charAt(at) === ',') at = skipWhitespace(text, at + 1);
  }
  return members;
}

/** The items of an array slice. */
export function arrayItems(slice: JsonSlice): JsonSlice[] {
  const { text } = slice;
  const items: JsonSlice[] = [];
  let at = skipWhitespace(text, slice.start + 1);
  while (at < slice.end && text.charAt(at) !== ']') {
    const end = valueEnd(text, at);
    items.push({ text, start: at, end });
    at = skipWhitespace(text, end);
    if (text.charAt(at) === ',') at = skipWhitespace(text, at + 1);
  }
  return items;
}
