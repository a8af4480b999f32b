/** Loading and cross-checking the configuration; every error names its place in the file, never a secret value. */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import * as z from 'zod';
import { fieldPath } from '../domain/field-path.js';
import { secretNameFor } from '../domain/names.js';
import { isSecretArn, nameFromArn } from '../domain/secret-id.js';
import {
  BUILT_IN_SECRET_TYPES,
  isUnknownReservedType,
  secretTypeKeysProblem,
  secretTypeMissingAnnotation,
} from '../domain/secret-types.js';
import { ConfigError } from '../errors.js';
import { type ClusterConfig, type Config, clusterSchema, configSchema } from './schema.js';
import { didYouMean } from './suggest.js';

/** Everything known about a configuration text: the config if it is valid, and every problem otherwise. */
export interface ConfigCheck {
  config: Config | undefined;
  /** Each prefixed with the origin and the place: `f.yaml: syncs[0].targets[1].clusters[0]: ...`. */
  issues: string[];
  /** The clusters that are valid on their own, even when the file is not (validate loads their kubeconfigs). */
  clusters: Record<string, ClusterConfig>;
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The string items of a list, with their indices in it (other items are the schema's to report). */
function stringItems(value: unknown): Array<[number, string]> {
  return listOf(value).flatMap((item, i): Array<[number, string]> => (typeof item === 'string' ? [[i, item]] : []));
}

/** The object schemas a path leads to through the zod schema (several below a union), for field-name suggestions. */
function objectsAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodObject[] {
  if (
    schema instanceof z.ZodOptional ||
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodPrefault ||
    schema instanceof z.ZodNullable
  ) {
    return objectsAt(schema.unwrap() as z.ZodType, path);
  }
  if (schema instanceof z.ZodPipe) return objectsAt(schema.out as z.ZodType, path);
  if (schema instanceof z.ZodUnion) return schema.options.flatMap((o) => objectsAt(o as z.ZodType, path));
  const [head, ...rest] = path;
  if (head === undefined) return schema instanceof z.ZodObject ? [schema] : [];
  if (schema instanceof z.ZodObject && typeof head === 'string' && Object.hasOwn(schema.shape, head)) {
    return objectsAt(schema.shape[head] as z.ZodType, rest);
  }
  if (schema instanceof z.ZodRecord && typeof head === 'string') return objectsAt(schema.valueType as z.ZodType, rest);
  if (schema instanceof z.ZodArray && typeof head === 'number') return objectsAt(schema.element as z.ZodType, rest);
  return [];
}

function zodIssues(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => {
    const place = fieldPath(issue.path) || '(root)';
    if (issue.code !== 'unrecognized_keys') return [`${place}: ${issue.message}`];
    // One line per unknown field, with the nearest field the object has: `namespace` -> `namespaces`.
    const known = objectsAt(configSchema, issue.path).flatMap((o) => Object.keys(o.shape));
    return issue.keys.map((key) => `${place}: unknown field "${key}"${didYouMean(key, new Set(known))}`);
  });
}

/** The Secret keys a target's mapping gives, when they are known before any value is read. */
function mappedKeys(target: Json): { field: 'keys' | 'asKey'; keys: string[] } | undefined {
  if (typeof target.asKey === 'string') return { field: 'asKey', keys: [target.asKey] };
  if (isRecord(target.keys)) return { field: 'keys', keys: Object.keys(target.keys) };
  return undefined; // `keys: all` (the default): the secret's own keys, checked at every render
}

/** The Secret type of a target: known types need their keys (after mapping), `kubernetes.io/` ones must exist. */
function checkType(target: Json, where: string): string[] {
  if (target.type !== undefined && typeof target.type !== 'string') return [];
  const type = (target.type as string | undefined) ?? 'Opaque';
  if (isUnknownReservedType(type)) {
    const suggestion = didYouMean(type, BUILT_IN_SECRET_TYPES);
    return [
      `${where}.type: unknown Secret type "${type}"${suggestion || ` (built-in types: ${BUILT_IN_SECRET_TYPES.join(', ')})`}`,
    ];
  }
  const issues: string[] = [];
  const mapped = mappedKeys(target);
  const problem = mapped === undefined ? undefined : secretTypeKeysProblem(type, mapped.keys);
  if (mapped !== undefined && problem !== undefined) {
    issues.push(
      `${where}.${mapped.field}: Secret type "${type}" ${problem} (this target maps ${mapped.keys.map((k) => `"${k}"`).join(', ')})`,
    );
  }
  const annotations = isRecord(target.annotations) ? Object.keys(target.annotations) : [];
  const annotation = secretTypeMissingAnnotation(type, annotations);
  if (annotation !== undefined) {
    issues.push(`${where}.annotations: Secret type "${type}" needs the annotation "${annotation}"`);
  }
  return issues;
}

/**
 * A sync's waves against its targets: each wave cluster is a cluster of the targets, listed once; and every target
 * cluster is in a wave, since a cluster left out would have no place in the order (an error, never a guess).
 */
function checkWaves(sync: Json, where: string): string[] {
  if (!isRecord(sync.rollout)) return [];
  const issues: string[] = [];
  const targets = new Set(
    listOf(sync.targets)
      .flatMap((t) => (isRecord(t) ? stringItems(t.clusters) : []))
      .map(([, c]) => c),
  );
  const placed = new Map<string, string>();
  listOf(sync.rollout.waves).forEach((wave, w) => {
    for (const [c, cluster] of stringItems(wave)) {
      const place = `${where}.rollout.waves[${w}][${c}]`;
      const other = placed.get(cluster);
      if (other !== undefined) issues.push(`${place}: cluster "${cluster}" is already in ${other}`);
      else placed.set(cluster, `${where}.rollout.waves[${w}]`);
      if (!targets.has(cluster)) {
        issues.push(
          `${place}: "${cluster}" is not a cluster of this sync's targets${didYouMean(cluster, [...targets])} (targets: ${[...targets].join(', ')})`,
        );
      }
    }
  });
  const missing = [...targets].filter((c) => !placed.has(c));
  if (Array.isArray(sync.rollout.waves) && missing.length > 0) {
    issues.push(
      `${where}.rollout.waves: cluster${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')} of the targets ${missing.length > 1 ? 'are' : 'is'} in no wave; add ${missing.length > 1 ? 'them' : 'it'} to one`,
    );
  }
  return issues;
}

/**
 * Checks that need the whole file: cluster references, duplicates, Secret types. They run on the parsed document
 * as it is, valid or not, so that a typo in one field does not hide an unknown cluster in another; anything of the
 * wrong shape is skipped here (the schema reports it).
 */
function crossCheck(document: unknown): string[] {
  if (!isRecord(document)) return [];
  const issues: string[] = [];
  const known = isRecord(document.clusters) ? Object.keys(document.clusters) : undefined;
  const seen = new Map<string, string>();
  listOf(document.syncs).forEach((sync, s) => {
    if (!isRecord(sync)) return;
    const source = isRecord(sync.source) ? sync.source : undefined;
    const single = typeof source?.secret === 'string' ? source.secret : undefined;
    const selector = source !== undefined && !('secret' in source) && ('namePrefix' in source || 'tags' in source);
    issues.push(...checkWaves(sync, `syncs[${s}]`));
    listOf(sync.targets).forEach((target, t) => {
      if (!isRecord(target)) return;
      const where = `syncs[${s}].targets[${t}]`;
      const clusters = stringItems(target.clusters);
      const namespaces = stringItems(target.namespaces);
      for (const [c, cluster] of known === undefined ? [] : clusters) {
        if (!known?.includes(cluster)) {
          issues.push(
            `${where}.clusters[${c}]: unknown cluster "${cluster}"${didYouMean(cluster, known ?? [])} (defined: ${known?.join(', ')})`,
          );
        }
      }
      for (const [field, items] of [
        ['clusters', clusters],
        ['namespaces', namespaces],
      ] as const) {
        items.forEach(([i, item], position) => {
          if (items.findIndex(([, x]) => x === item) !== position) {
            issues.push(`${where}.${field}[${i}]: "${item}" is listed twice`);
          }
        });
      }
      if (selector && target.secret !== undefined) {
        issues.push(`${where}.secret: a selector source matches many secrets; omit "secret" (names are derived)`);
      }
      issues.push(...checkType(target, where));
      if (single !== undefined && (target.secret === undefined || typeof target.secret === 'string')) {
        // The name plan.ts gives the Secret (from the source's name, which an ARN carries).
        const name = isSecretArn(single) ? (nameFromArn(single) ?? single) : single;
        const secret = secretNameFor(name, { secret: target.secret as string | undefined });
        for (const [, cluster] of clusters) {
          for (const [, namespace] of namespaces) {
            const key = `${cluster}/${namespace}/${secret}`;
            const other = seen.get(key);
            if (other === where) continue; // listed twice in this target: reported above
            if (other !== undefined) {
              issues.push(
                `${where}: Secret ${namespace}/${secret} in cluster "${cluster}" is also written by ${other}`,
              );
            } else {
              seen.set(key, where);
            }
          }
        }
      }
    });
  });
  return issues;
}

/** The clusters of the document that are valid on their own. */
function validClusters(document: unknown): Record<string, ClusterConfig> {
  const clusters: Record<string, ClusterConfig> = {};
  const raw = isRecord(document) && isRecord(document.clusters) ? document.clusters : {};
  for (const [name, spec] of Object.entries(raw)) {
    const parsed = clusterSchema.safeParse(spec);
    if (parsed.success) clusters[name] = parsed.data;
  }
  return clusters;
}

/**
 * Every problem of a configuration text (YAML or JSON): syntax, then the schema and the cross-checks together.
 * Never throws; `parseConfig` and `validate` build on it.
 */
export function checkConfig(text: string, origin = 'configuration'): ConfigCheck {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => `${origin}: YAML ${e.message.split('\n')[0]}`);
    return { config: undefined, issues, clusters: {} };
  }
  const document: unknown = doc.toJS();
  const parsed = configSchema.safeParse(document);
  const issues = [...(parsed.success ? [] : zodIssues(parsed.error)), ...crossCheck(document)];
  return {
    config: parsed.success && issues.length === 0 ? parsed.data : undefined,
    issues: issues.map((i) => `${origin}: ${i}`),
    clusters: validClusters(document),
  };
}

/** Parses and validates configuration text (YAML or JSON). Throws ConfigError naming every problem. */
export function parseConfig(text: string, origin = 'configuration'): Config {
  const { config, issues } = checkConfig(text, origin);
  if (config === undefined) throw new ConfigError(issues);
  return config;
}

async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'read error';
    throw new ConfigError([`${path}: cannot read configuration file (${code})`], { cause: error });
  }
}

/** Reads and validates a configuration file. */
export async function loadConfigFile(path: string): Promise<Config> {
  return parseConfig(await readConfigText(path), path);
}

/** Reads a configuration file and reports every problem without throwing on them (ConfigError if unreadable). */
export async function checkConfigFile(path: string): Promise<ConfigCheck> {
  return checkConfig(await readConfigText(path), path);
}
