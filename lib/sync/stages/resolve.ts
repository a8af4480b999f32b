/**
 * Which secrets a pass covers: the request's filters checked against the configuration, every configured secret
 * (selectors by ListSecrets) or the requested ones identified, and the other secrets writing the same Secrets.
 */
import type { Config, SourceConfig } from '../../config/index.js';
import type { SyncRequest } from '../../domain/request.js';
import { isArnOf, isSecretArn, mayNameSameSecret, nameFromArn, resourceText } from '../../domain/secret-id.js';
import { InputError, SyncError } from '../../errors.js';
import type { Pass } from '../pass.js';
import { type Binding, planBindings, type ResolvedSecret } from '../plan.js';
import type { SecretFilter, SecretRef, SecretSource } from '../ports/source.js';
import { bindingKey, errorOf, type SourceEntry } from './report.js';

/** The secrets of each sync (by index in `config.syncs`), the sources that could not be resolved, and notes. */
export interface Resolved {
  resolved: Map<number, ResolvedSecret[]>;
  sources: SourceEntry[];
  notes: string[];
  /** The version the request announced for a secret, by the id it is read with (`fetchId`). */
  announced: Map<string, string>;
}

/** The version the request announced for one of its secret ids: its own entry of `versionIds`, else `versionId`. */
export function announcedVersion(request: SyncRequest, id: string): string | undefined {
  return request.versionIds?.[id] ?? request.versionId;
}

function tagsMatch(wanted: Record<string, string> | undefined, tags: Record<string, string>): boolean {
  return Object.entries(wanted ?? {}).every(([k, v]) => tags[k] === v);
}

/** A described secret (an event's or a backfill's id) against a selector; listings are matched by the source. */
function selectorMatches(source: SourceConfig, ref: SecretRef): boolean {
  if ('secret' in source) return false;
  const prefixOk = !('namePrefix' in source) || ref.name.startsWith(source.namePrefix);
  return prefixOk && tagsMatch(source.tags, ref.tags);
}

/** The Kubernetes name a configured id gives by default (a configured ARN's name part, as the config loader reads it). */
function defaultName(id: string): string {
  return isSecretArn(id) ? (nameFromArn(id) ?? id) : id;
}

/** Whether a sync covers the secret a request names: the secret to plan, or a note why a candidate is not it. */
interface Identified {
  secret?: ResolvedSecret;
  note?: string;
  configured?: string;
}

/**
 * Decides whether `id` (a name, full or partial ARN, as an event or a backfill names it) is a secret `source` covers,
 * on the full ARN Secrets Manager reports, never on the suffix's shape. A text pre-filter rules out the rest without
 * a call. A configured name means the secret of that name in the function's own account and region: Secrets
 * Manager resolves it there, so the configured side is the one described (it is also the one IAM lets us describe).
 * Throws SyncError when Secrets Manager cannot tell (throttled, denied).
 */
async function identify(
  source: SourceConfig,
  id: string,
  describe: (id: string) => Promise<SecretRef | undefined>,
): Promise<Identified> {
  if ('secret' in source) {
    const configured = source.secret;
    if (!mayNameSameSecret(configured, isSecretArn(id) ? { arn: id } : { name: id })) return {};
    // Read by the configured id, as reconcile does, whichever form the request used.
    const secret: ResolvedSecret = { fetchId: configured, name: defaultName(configured) };
    if (id === configured) return { secret };
    // An ARN is checked against the configured secret's ARN; a name (ours by definition) is described, and its
    // ARN checked against the configured ARN.
    const [described, arn] = isSecretArn(id) ? [configured, id] : [id, configured];
    const found = await describe(described);
    if (found !== undefined && isArnOf(arn, found)) return { secret };
    const why = found === undefined ? `"${described}" does not exist` : `"${described}" is ${found.arn}`;
    return { note: `secret "${id}" is not the configured "${configured}" (${why})`, configured };
  }
  if ('namePrefix' in source && !resourceText(id).startsWith(source.namePrefix)) return {};
  // Tags are not in events, and an ARN's name is only known from Secrets Manager.
  const found = isSecretArn(id) || source.tags !== undefined ? await describe(id) : { arn: id, name: id, tags: {} };
  if (found === undefined || !selectorMatches(source, found)) return {};
  return { secret: { fetchId: found.arn, name: found.name } };
}

/**
 * ListSecrets once per distinct selector in a pass, however many syncs share it. A failed listing is told to
 * `failed` once, with the selector as the key reports name it, and gives every sync that shares it undefined.
 */
function selectorLister(
  source: SecretSource,
  failed: (key: string, error: unknown) => void,
): (selector: SecretFilter) => Promise<SecretRef[] | undefined> {
  const listed = new Map<string, Promise<SecretRef[] | undefined>>();
  return (selector) => {
    const filter = { ...selector };
    const key = JSON.stringify(filter);
    let refs = listed.get(key);
    if (refs === undefined) {
      refs = source.list(filter).catch((error: unknown) => {
        failed(key, error);
        return undefined;
      });
      listed.set(key, refs);
    }
    return refs;
  };
}

/** Rejects filters that name nothing in the configuration, before any work is done. */
export function checkRequest(config: Config, request: SyncRequest): void {
  const known = Object.keys(config.clusters);
  const unknown = (request.clusters ?? []).filter((c) => !known.includes(c));
  if (unknown.length > 0) {
    throw new InputError(
      'InvalidInput',
      `unknown cluster${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => `"${c}"`).join(', ')} (defined: ${known.join(', ')})`,
    );
  }
  // A misspelt namespace would otherwise select nothing and report success.
  const namespaces = new Set(config.syncs.flatMap((s) => s.targets.flatMap((t) => t.namespaces)));
  const unknownNamespaces = (request.namespaces ?? []).filter((n) => !namespaces.has(n));
  if (unknownNamespaces.length > 0) {
    throw new InputError(
      'InvalidInput',
      `namespace${unknownNamespaces.length > 1 ? 's' : ''} ${unknownNamespaces.map((n) => `"${n}"`).join(', ')} ${unknownNamespaces.length > 1 ? 'are' : 'is'} not a target of any sync`,
    );
  }
}

/**
 * Which secrets each sync covers in this pass: every configured one (selectors by ListSecrets), or the requested
 * ones, identified by `identify` (DescribeSecret only where the ids alone cannot tell).
 */
export async function resolveSecrets(pass: Pass): Promise<Resolved> {
  const { config, source, request } = pass;
  const notes: string[] = [];
  const sources: SourceEntry[] = [];
  const resolved = new Map<number, ResolvedSecret[]>();
  const announced = new Map<string, string>();
  const add = (index: number, secret: ResolvedSecret) => {
    const list = resolved.get(index) ?? [];
    // By name too: a backfill may name one secret by name and by ARN, and it must be written once.
    if (!list.some((s) => s.fetchId === secret.fetchId || s.name === secret.name)) list.push(secret);
    resolved.set(index, list);
  };

  if (request.secrets === undefined) {
    // One failing selector must not stop the rest of a reconcile; the handler fails the pass afterwards.
    const list = selectorLister(source, (key, error) => {
      sources.push({ id: `selector ${key}`, error: errorOf(error) });
    });
    for (const [index, sync] of config.syncs.entries()) {
      if ('secret' in sync.source) {
        const id = sync.source.secret;
        add(index, { fetchId: id, name: defaultName(id) });
        continue;
      }
      // The source's list() is the selector's exact match (the port's contract); it is not filtered again here.
      for (const ref of (await list(sync.source)) ?? []) add(index, { fetchId: ref.arn, name: ref.name });
    }
    return { resolved, sources, notes, announced };
  }

  // One DescribeSecret per distinct id per pass, however many syncs ask about it.
  const described = new Map<string, Promise<SecretRef | undefined>>();
  const describe = (id: string): Promise<SecretRef | undefined> => {
    let ref = described.get(id);
    if (ref === undefined) {
      ref = source.describe(id).catch((error: unknown) => {
        if (error instanceof SyncError && error.code === 'SecretNotFound') return undefined;
        throw error;
      });
      described.set(id, ref);
    }
    return ref;
  };
  const failures = new Set<string>();
  for (const id of request.secrets) {
    let matched = false;
    let failed = false;
    for (const [index, sync] of config.syncs.entries()) {
      let found: Identified;
      try {
        found = await identify(sync.source, id, describe);
      } catch (error) {
        // Identity unknown: plan nothing for it (never a guess); the pass fails and the event is retried.
        failed = true;
        const e = errorOf(error);
        if (!failures.has(`${id}\n${e.message}`)) sources.push({ id, error: e });
        failures.add(`${id}\n${e.message}`);
        continue;
      }
      if (found.secret !== undefined) {
        add(index, found.secret);
        const version = announcedVersion(request, id);
        if (version !== undefined) announced.set(found.secret.fetchId, version);
        matched = true;
      } else if (found.note !== undefined) {
        notes.push(found.note);
        pass.log.info('secret is not the configured one', { secretId: id, configured: found.configured });
      }
    }
    if (!matched && !failed) {
      if (request.trigger === 'backfill') {
        throw new InputError('InvalidInput', `secret "${id}" matches no sync in the configuration`);
      }
      notes.push(`secret "${id}" matches no sync in the configuration; nothing to do`);
      pass.log.info('secret matches no configured sync', { secretId: id });
    }
  }
  return { resolved, sources, notes, announced };
}

/**
 * A pass for named secrets (an event, a backfill by id) sees only those, so two secrets deriving one Kubernetes
 * Secret name would be written alternately by their own events. Plans the other secrets the configuration writes
 * to the same Secrets (selectors: one ListSecrets each, as reconcile lists them), only to refuse the pair.
 */
export async function planPeers(
  pass: Pass,
  resolved: Map<number, ResolvedSecret[]>,
  planned: Binding[],
): Promise<{ peers: Binding[]; notes: string[] }> {
  const { config, source, request } = pass;
  const notes: string[] = [];
  if (request.secrets === undefined || request.deleted || planned.length === 0) return { peers: [], notes };
  const wanted = new Set(planned.map(bindingKey));
  const places = new Set(planned.map((b) => `${b.cluster}/${b.namespace}`));
  const peers = new Map<number, ResolvedSecret[]>();
  // The write guard still refuses to overwrite another secret's Secret; this only makes the refusal mutual.
  const list = selectorLister(source, (key, error) => {
    const message = errorOf(error).message;
    notes.push(`selector ${key} not listed to check for secrets writing the same Secret: ${message}`);
    pass.log.warn('selector not listed for the same-Secret check', { selector: key, error: message });
  });
  for (const [index, sync] of config.syncs.entries()) {
    const mine = resolved.get(index) ?? [];
    if ('secret' in sync.source) {
      const id = sync.source.secret;
      if (mine.length === 0) peers.set(index, [{ fetchId: id, name: defaultName(id) }]);
      continue;
    }
    const overlaps = sync.targets.some((t) =>
      t.clusters.some((c) => t.namespaces.some((n) => places.has(`${c}/${n}`))),
    );
    if (!overlaps) continue;
    const refs = await list(sync.source);
    if (refs === undefined) continue;
    const others = refs.filter((ref) => !mine.some((s) => s.fetchId === ref.arn || s.name === ref.name));
    if (others.length > 0)
      peers.set(
        index,
        others.map((ref) => ({ fetchId: ref.arn, name: ref.name })),
      );
  }
  return { peers: planBindings(config, peers, request).filter((b) => wanted.has(bindingKey(b))), notes };
}
