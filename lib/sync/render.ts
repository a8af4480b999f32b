/** render: a secret value -> the desired Kubernetes Secret. Pure; errors name keys and secrets, never values. */
import type { KeyRef, TargetConfig } from '../config/index.js';
import { parseForSearch, searchJson } from '../domain/jmespath.js';
import {
  contentHash,
  HASH_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  SOURCE_ANNOTATION,
  secretKeyProblem,
  VERSION_ANNOTATION,
} from '../domain/names.js';
import type { SecretIdentity } from '../domain/secret-id.js';
import { secretTypeKeysProblem } from '../domain/secret-types.js';
import { parseTemplate } from '../domain/templates.js';
import { SyncError } from '../errors.js';
import {
  arrayItems,
  documentSlice,
  type JsonSlice,
  kindOf,
  objectMembers,
  sourceText,
  stringValue,
} from './json-source.js';
import type { KubeSecretWrite } from './ports/kube.js';
import type { SecretValue } from './ports/source.js';

/** The API server rejects Secrets whose data exceeds 1 MiB. */
export const MAX_SECRET_BYTES = 1024 * 1024;

export interface DesiredSecret extends KubeSecretWrite {
  hash: string;
  /** The source secret as Secrets Manager reported it; the writer refuses a Secret that mirrors another one. */
  source: SecretIdentity;
}

/** A JSON secret both ways: its own text (for exact values) and, once asked for, a parse for JMESPath. */
interface JsonDocument {
  slice: JsonSlice;
  searchable: () => object;
}

/**
 * Parses a SecretString as a JSON object and returns it with a slice of its own text, so that values keep their
 * exact JSON text; the parser's message is dropped because it quotes the input.
 */
function parseJsonObject(value: SecretValue, source: string): JsonDocument {
  if (value.secretString === undefined) {
    throw new SyncError(
      'SecretNotJson',
      `secret "${source}" holds SecretBinary; map it to one key with "asKey" instead of "keys"`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.secretString);
  } catch {
    throw new SyncError(
      'SecretNotJson',
      `secret "${source}" is not valid JSON, but its target maps keys; use "asKey" to sync the whole string`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SyncError(
      'SecretNotJson',
      `secret "${source}" is JSON but not an object (${Array.isArray(parsed) ? 'array' : typeof parsed}); use "asKey" to sync the whole string`,
    );
  }
  const text = value.secretString;
  let searchable: object | undefined;
  return { slice: documentSlice(text), searchable: () => (searchable ??= parseForSearch(text)) };
}

/** A value's Secret bytes (base64): a string's characters, any other value's JSON text exactly as stored. */
function encode(value: JsonSlice): string | undefined {
  const kind = kindOf(value);
  if (kind === 'null') return undefined;
  const text = kind === 'string' ? stringValue(value) : sourceText(value);
  return Buffer.from(text, 'utf8').toString('base64');
}

const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

/** A top-level key or a dotted path, read from the document's text. */
function lookup(object: Map<string, JsonSlice>, ref: string | { path: string }): JsonSlice | undefined {
  if (typeof ref === 'string') return object.get(ref);
  const [first, ...rest] = ref.path.split('.');
  let current = object.get(first ?? '');
  for (const part of rest) {
    if (current === undefined) return undefined;
    const kind = kindOf(current);
    if (kind === 'object') current = objectMembers(current).get(part);
    else if (kind === 'array' && ARRAY_INDEX.test(part)) current = arrayItems(current)[Number(part)];
    else return undefined;
  }
  return current;
}

/** One mapped key's value as text, or what it could not find, each already quoted for the message. */
type Resolved = { text: string } | { missing: string[] };

function resolve(document: JsonDocument, object: Map<string, JsonSlice>, key: string, ref: KeyRef): Resolved {
  if (typeof ref === 'string' || 'path' in ref) {
    const hit = lookup(object, ref);
    const kind = hit === undefined ? 'null' : kindOf(hit);
    if (hit === undefined || kind === 'null') return { missing: [`"${typeof ref === 'string' ? ref : ref.path}"`] };
    return { text: kind === 'string' ? stringValue(hit) : sourceText(hit) };
  }
  if ('jmespath' in ref) {
    const result = searchJson(ref.jmespath, document.searchable());
    if (result.found) return { text: result.text };
    const why = result.reason === 'type' ? ', a function got a value of the wrong type' : '';
    return { missing: [`"${ref.jmespath}" (the JMESPath of ${quoteKey(key)}${why})`] };
  }
  const parsed = parseTemplate(ref.template);
  // The configuration check refused this template already; a hand-built config reaching here is a bug.
  if ('problem' in parsed) throw new SyncError('KeyNotFound', `the template of key ${quoteKey(key)} ${parsed.problem}`);
  let text = '';
  const missing: string[] = [];
  for (const part of parsed.parts) {
    if ('text' in part) {
      text += part.text;
      continue;
    }
    const result = searchJson(part.expression, document.searchable());
    if (result.found) text += result.text;
    else {
      const why = result.reason === 'type' ? ', a function got a value of the wrong type' : '';
      missing.push(`"${part.expression}" (variable ${part.tag} of the template of ${quoteKey(key)}${why})`);
    }
  }
  return missing.length > 0 ? { missing } : { text };
}

/** A key name for a message: names are not secret, but one may be long. */
function quoteKey(key: string): string {
  return key.length > 80 ? `${JSON.stringify(key.slice(0, 80))}... (${key.length} characters)` : JSON.stringify(key);
}

/** Refuses keys the API server would reject on every pass (or that JavaScript would drop), naming each. */
function checkKeyNames(keys: Iterable<string>, source: string): void {
  const invalid: string[] = [];
  for (const key of keys) {
    const problem = secretKeyProblem(key);
    if (problem !== undefined) invalid.push(`${quoteKey(key)} (${problem})`);
  }
  if (invalid.length > 0) {
    throw new SyncError(
      'KeyNotFound',
      `secret "${source}" has keys that are not valid Secret keys: ${invalid.slice(0, 10).join(', ')}${invalid.length > 10 ? `, and ${invalid.length - 10} more` : ''}; map them with "keys"`,
    );
  }
}

/** Secret data (base64 values) for one target; throws SyncError naming missing or invalid keys. */
export function renderData(value: SecretValue, target: TargetConfig, source: string): Record<string, string> {
  if (target.asKey !== undefined) {
    checkKeyNames([target.asKey], source);
    const bytes =
      value.secretBinary !== undefined
        ? Buffer.from(value.secretBinary)
        : Buffer.from(value.secretString ?? '', 'utf8');
    return { [target.asKey]: bytes.toString('base64') };
  }
  const document = parseJsonObject(value, source);
  const object = objectMembers(document.slice);
  const data: Record<string, string> = {};
  if (target.keys === undefined || target.keys === 'all') {
    checkKeyNames(object.keys(), source);
    for (const [key, item] of object) {
      const encoded = encode(item);
      if (encoded !== undefined) data[key] = encoded;
    }
    if (Object.keys(data).length === 0) {
      throw new SyncError(
        'KeyNotFound',
        `secret "${source}" has no keys to sync (${object.size === 0 ? 'an empty JSON object' : 'every value is null'}); an empty Secret is not written`,
      );
    }
    return data;
  }
  checkKeyNames(Object.keys(target.keys), source);
  const missing: string[] = [];
  for (const [key, ref] of Object.entries(target.keys)) {
    const resolved = resolve(document, object, key, ref);
    if ('missing' in resolved) missing.push(...resolved.missing);
    else data[key] = Buffer.from(resolved.text, 'utf8').toString('base64');
  }
  // All or nothing: a binding with any key missing writes nothing, so no Secret is ever half-rendered.
  if (missing.length > 0) {
    throw new SyncError(
      'KeyNotFound',
      `secret "${source}" has no ${missing.length === 1 ? 'key' : 'keys'} ${missing.join(', ')} (mapped in "keys")`,
    );
  }
  return data;
}

/** The desired Secret for one binding: data, type, our label and annotations (the source's full ARN), content hash. */
export function renderSecret(
  value: SecretValue,
  target: TargetConfig,
  where: { namespace: string; name: string; source: string },
): DesiredSecret {
  const data = renderData(value, target, where.source);
  // The configuration check caught this for mapped keys already; `keys: all` is only known now.
  const problem = secretTypeKeysProblem(target.type, Object.keys(data));
  if (problem !== undefined) {
    throw new SyncError(
      'KeyNotFound',
      `Secret type ${target.type} ${problem}, which secret "${where.source}" does not provide after key mapping`,
    );
  }
  const bytes = Object.entries(data).reduce((n, [k, v]) => n + k.length + Buffer.byteLength(v, 'base64'), 0);
  if (bytes > MAX_SECRET_BYTES) {
    throw new SyncError(
      'TooLarge',
      `Secret ${where.namespace}/${where.name} would hold ${bytes} bytes, over the 1 MiB Kubernetes limit`,
    );
  }
  const hash = contentHash(target.type, data);
  return {
    namespace: where.namespace,
    name: where.name,
    type: target.type,
    data,
    labels: { ...target.labels, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
    annotations: {
      ...target.annotations,
      [HASH_ANNOTATION]: hash,
      [SOURCE_ANNOTATION]: value.arn,
      [VERSION_ANNOTATION]: value.versionId,
    },
    hash,
    source: { arn: value.arn, name: value.name },
  };
}
