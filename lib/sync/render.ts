/** render: a secret value -> the desired Kubernetes Secret. Pure; errors name keys and secrets, never values. */
import type { KeyRef, TargetConfig } from '../config/index.js';
import { SyncError } from '../errors.js';
import type { SecretIdentity } from '../events/secret-id.js';
import type { KubeSecretWrite } from '../target/kube-api.js';
import {
  contentHash,
  HASH_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  SOURCE_ANNOTATION,
  VERSION_ANNOTATION,
} from './names.js';
import type { SecretValue } from './ports.js';

/** The API server rejects Secrets whose data exceeds 1 MiB. */
export const MAX_SECRET_BYTES = 1024 * 1024;

/** Keys each built-in Secret type requires (Kubernetes API validation). */
const REQUIRED_KEYS: Record<string, string[]> = {
  'kubernetes.io/dockerconfigjson': ['.dockerconfigjson'],
  'kubernetes.io/dockercfg': ['.dockercfg'],
  'kubernetes.io/tls': ['tls.crt', 'tls.key'],
  'kubernetes.io/ssh-auth': ['ssh-privatekey'],
};
const VALID_KEY = /^[-._a-zA-Z0-9]+$/;

export interface DesiredSecret extends KubeSecretWrite {
  hash: string;
  /** The source secret as Secrets Manager reported it; the writer refuses a Secret that mirrors another one. */
  source: SecretIdentity;
}

/** Parses a SecretString as a JSON object; the parser's message is dropped because it quotes the input. */
function parseJsonObject(value: SecretValue, source: string): Record<string, unknown> {
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
  return parsed as Record<string, unknown>;
}

function encode(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return Buffer.from(text, 'utf8').toString('base64');
}

function lookup(object: Record<string, unknown>, ref: KeyRef): { found: boolean; value?: unknown } {
  if (typeof ref === 'string')
    return Object.hasOwn(object, ref) ? { found: true, value: object[ref] } : { found: false };
  let current: unknown = object;
  for (const part of ref.path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, part)) return { found: false };
    current = (current as Record<string, unknown>)[part];
  }
  return { found: true, value: current };
}

/** Secret data (base64 values) for one target; throws SyncError naming missing or invalid keys. */
export function renderData(value: SecretValue, target: TargetConfig, source: string): Record<string, string> {
  if (target.asKey !== undefined) {
    const bytes =
      value.secretBinary !== undefined
        ? Buffer.from(value.secretBinary)
        : Buffer.from(value.secretString ?? '', 'utf8');
    return { [target.asKey]: bytes.toString('base64') };
  }
  const object = parseJsonObject(value, source);
  const data: Record<string, string> = {};
  if (target.keys === undefined || target.keys === 'all') {
    const invalid = Object.keys(object).filter((k) => !VALID_KEY.test(k));
    if (invalid.length > 0) {
      throw new SyncError(
        'KeyNotFound',
        `secret "${source}" has keys that are not valid Secret keys: ${invalid.map((k) => JSON.stringify(k)).join(', ')}; map them with "keys"`,
      );
    }
    for (const [key, item] of Object.entries(object)) {
      if (item !== null && item !== undefined) data[key] = encode(item);
    }
    return data;
  }
  const missing: string[] = [];
  for (const [key, ref] of Object.entries(target.keys)) {
    const hit = lookup(object, ref);
    if (!hit.found || hit.value === null || hit.value === undefined) {
      missing.push(typeof ref === 'string' ? ref : ref.path);
    } else {
      data[key] = encode(hit.value);
    }
  }
  if (missing.length > 0) {
    throw new SyncError(
      'KeyNotFound',
      `secret "${source}" has no ${missing.length === 1 ? 'key' : 'keys'} ${missing.map((m) => `"${m}"`).join(', ')} (mapped in "keys")`,
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
  const required = REQUIRED_KEYS[target.type] ?? [];
  const absent = required.filter((k) => !(k in data));
  if (absent.length > 0) {
    throw new SyncError(
      'KeyNotFound',
      `Secret type ${target.type} needs ${absent.map((k) => `"${k}"`).join(', ')}, which secret "${where.source}" does not provide after key mapping`,
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
