/**
 * One ExternalSecret -> one sync. Facts from ESO's ExternalSecret reference (`external-secrets.io/v1`, the same
 * fields in `v1beta1`):
 * - `spec.secretStoreRef { name, kind: SecretStore (default) | ClusterSecretStore }`; any `data[]`/`dataFrom[]`
 *   entry may name its own store in `sourceRef.storeRef`, or a generator in `sourceRef.generatorRef`.
 * - `data[] { secretKey, remoteRef { key, property, version, conversionStrategy, decodingStrategy, metadataPolicy } }`:
 *   one Secret key from one remote secret; `property` is a gjson path into a JSON secret (absent: the whole string).
 *   For AWS Secrets Manager `version` is a version stage (`AWSCURRENT` when absent) or `uuid/<VersionId>`.
 * - `dataFrom[] { extract | find, rewrite }`: `extract { key, property, ... }` puts every top-level key of a JSON
 *   secret (of the object at `property`) in the Secret; `find { path, name: { regexp }, tags }` puts every matching
 *   secret in the Secret, one key per secret name; `rewrite` renames the keys.
 * - `target { name (default: the ExternalSecret's name), creationPolicy: Owner (default; owner reference) | Orphan
 *   | Merge (into an existing Secret) | None, deletionPolicy: Retain (default) | Delete | Merge (when the remote
 *   secrets are gone), immutable, template { type, engineVersion (v2 default), metadata { labels, annotations },
 *   data, templateFrom, mergePolicy: Replace (default) | Merge } }`. With `template.data` (or `templateFrom`) and
 *   mergePolicy Replace the Secret holds only the templated keys; with Merge the data keys too.
 * - `refreshInterval` (polling period; `0` fetches once) and `refreshPolicy: Periodic | OnChange | CreatedOnce`.
 * - The ExternalSecret's own labels and annotations are copied to the Secret, under the template's metadata.
 */
import { secretKeyProblem } from '../domain/names.js';
import { isRecord, type Json, type Manifest } from './manifests.js';
import { propertyKeyRef, propertyVariable } from './property.js';
import { type Store, storeKey } from './stores.js';
import { rewriteTemplate } from './template.js';
import type { Finding, ImportOptions } from './types.js';

export interface Context {
  stores: Map<string, Store>;
  /** The region the functions read Secrets Manager in. */
  region: string;
  options: ImportOptions;
}

export interface MappedExternalSecret {
  from: string;
  /** Its place (`file:document`). */
  where: string;
  namespace?: string;
  /** The Secret it writes when that is known (single-source syncs), for the duplicate check. */
  secretName?: string;
  sync?: Record<string, unknown>;
  leftOut: Finding[];
  notes: Finding[];
}

type KeyRef = string | { path: string } | { jmespath: string } | { template: string };

/** One read of a remote secret: a data[] entry, or a dataFrom[] extract or find. */
type Read =
  | { kind: 'data'; path: string; key: string; secretKey: string; property?: string }
  | { kind: 'extract'; path: string; key: string; property?: string }
  | { kind: 'find'; path: string; find: Json };

const SPEC_FIELDS = new Set(['secretStoreRef', 'target', 'refreshInterval', 'refreshPolicy', 'data', 'dataFrom']);
const TARGET_FIELDS = new Set(['name', 'creationPolicy', 'deletionPolicy', 'template', 'immutable']);
const TEMPLATE_FIELDS = new Set(['type', 'engineVersion', 'metadata', 'data', 'templateFrom', 'mergePolicy']);
const REMOTE_REF_FIELDS = new Set([
  'key',
  'property',
  'version',
  'conversionStrategy',
  'decodingStrategy',
  'metadataPolicy',
]);
const FIND_FIELDS = new Set(['path', 'name', 'tags', 'conversionStrategy', 'decodingStrategy']);
/** The order a target's fields are written in (as README's examples). */
const TARGET_ORDER = ['clusters', 'namespaces', 'secret', 'type', 'keys', 'asKey', 'labels', 'annotations', 'adopt'];
/** kubectl's copy of the applied manifest: ESO would copy it too, but it describes the ExternalSecret, not a Secret. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

const asRecord = (value: unknown): Json => (isRecord(value) ? value : {});
const text = (value: unknown): string | undefined =>
  typeof value === 'string'
    ? value
    : typeof value === 'number' || typeof value === 'boolean'
      ? String(value)
      : undefined;

/** String-valued map of labels or annotations, as Kubernetes reads them (YAML numbers become strings). */
function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(asRecord(value))) {
    const s = text(v);
    if (s !== undefined && k !== LAST_APPLIED) out[k] = s;
  }
  return out;
}

/** ESO's refreshInterval is a Go duration; only a zero one (fetch once) changes what the Secret holds. */
function isZeroDuration(value: string): boolean {
  return /^0+(\.0+)?(ns|us|µs|ms|s|m|h)?$/.test(value.trim());
}

/**
 * A find's `name.regexp` as a name prefix: `^` then literal characters (`\` escapes allowed), optionally ending in
 * `.*` or `.+`. Anything else (an unanchored or alternating expression, classes) is not a prefix.
 */
export function regexpPrefix(regexp: string): string | undefined {
  const match = /^\^((?:[A-Za-z0-9_/=@:,-]|\\[./+\-_=@:])*)(?:\.\*|\.\+)?$/.exec(regexp);
  return match === null || match[1] === '' ? undefined : (match[1] as string).replace(/\\(.)/g, '$1');
}

class Findings {
  readonly leftOut: Finding[] = [];
  readonly notes: Finding[] = [];
  constructor(private readonly where: string) {}
  out(path: string, reason: string): void {
    this.leftOut.push({ place: `${this.where}.${path}`, reason });
  }
  note(path: string, reason: string): void {
    this.notes.push({ place: `${this.where}.${path}`, reason });
  }
  unknown(object: Json, known: Set<string>, path: string): void {
    for (const field of Object.keys(object).filter((f) => !known.has(f)))
      this.out(`${path}.${field}`, 'is not known to import');
  }
}

/** Maps one ExternalSecret manifest; pure. */
export function mapExternalSecret(manifest: Manifest, ctx: Context): MappedExternalSecret {
  const f = new Findings(manifest.where);
  const metadata = asRecord(manifest.body.metadata);
  const spec = asRecord(manifest.body.spec);
  const name = text(metadata.name) ?? '';
  const namespace = text(metadata.namespace) ?? ctx.options.namespace;
  const from = `ExternalSecret ${namespace ?? '?'}/${name} (${manifest.where})`;
  const result = (extra: Partial<MappedExternalSecret> = {}): MappedExternalSecret => ({
    from,
    where: manifest.where,
    ...(namespace === undefined ? {} : { namespace }),
    ...extra,
    leftOut: f.leftOut,
    notes: f.notes,
  });

  const apiVersion = text(manifest.body.apiVersion);
  if (apiVersion !== 'external-secrets.io/v1' && apiVersion !== 'external-secrets.io/v1beta1') {
    f.out('apiVersion', `${apiVersion} is not imported (only external-secrets.io/v1 and v1beta1)`);
    return result();
  }
  if (namespace === undefined) {
    f.out('metadata.namespace', 'is not set: pass --namespace for manifests without one');
    return result();
  }
  f.unknown(spec, SPEC_FIELDS, 'spec');
  refresh(spec, f);

  const target = asRecord(spec.target);
  const template = isRecord(target.template) ? target.template : undefined;
  f.unknown(target, TARGET_FIELDS, 'spec.target');
  if (template !== undefined) f.unknown(template, TEMPLATE_FIELDS, 'spec.target.template');

  const reads = collectReads(spec, namespace, ctx, f);
  const first = reads[0];
  if (first === undefined) {
    if (f.leftOut.length === 0) f.out('spec', 'reads no remote secret (no data or dataFrom)');
    return result();
  }

  const sync: Record<string, unknown> = {};
  const out: Record<string, unknown> = {
    clusters: ctx.options.clusters.map((c) => c.name),
    namespaces: [namespace],
  };
  let secretName: string | undefined;
  const type = text(template?.type);
  if (type !== undefined && type !== 'Opaque') out.type = type;
  if (first.kind === 'find') {
    const source = findSource(first, f);
    for (const other of reads.slice(1)) {
      f.out(other.path, 'is a second read in a Secret a find writes: a selector sync writes each secret on its own');
    }
    if (source === undefined) return result();
    sync.source = source;
    if (template?.data !== undefined || template?.templateFrom !== undefined) {
      f.out('spec.target.template', "templates over a find's keys (one per secret) have no equivalent");
    }
  } else {
    const mapped = mapKeys(first.key, reads, template, f);
    if (mapped === undefined) return result();
    sync.source = { secret: first.key };
    secretName = text(target.name) ?? name;
    out.secret = secretName;
    Object.assign(out, mapped);
  }
  // Set after source and keys so that the written sync reads source, deletionPolicy, targets.
  const deletionPolicy = policies(target, f);
  if (deletionPolicy !== undefined) sync.deletionPolicy = deletionPolicy;
  const templateMetadata = asRecord(template?.metadata);
  for (const field of Object.keys(templateMetadata).filter((k) => k !== 'labels' && k !== 'annotations')) {
    f.out(`spec.target.template.metadata.${field}`, 'has no equivalent');
  }
  const labels = { ...stringMap(metadata.labels), ...stringMap(templateMetadata.labels) };
  const annotations = { ...stringMap(metadata.annotations), ...stringMap(templateMetadata.annotations) };
  if (Object.keys(labels).length > 0) out.labels = sortedRecord(labels);
  if (Object.keys(annotations).length > 0) out.annotations = sortedRecord(annotations);
  if (ctx.options.adopt === true) out.adopt = true;
  sync.targets = [Object.fromEntries(TARGET_ORDER.filter((k) => k in out).map((k) => [k, out[k]]))];
  return result({ sync, ...(secretName === undefined ? {} : { secretName }) });
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Polling settings: a push needs none, but "fetch once" or "only on change" are behaviours we do not have. */
function refresh(spec: Json, f: Findings): void {
  const interval = text(spec.refreshInterval);
  if (interval !== undefined) {
    if (isZeroDuration(interval)) {
      f.out('spec.refreshInterval', '0 fetches once; eks-secret-sync keeps the Secret current at every rotation');
    } else {
      f.note('spec.refreshInterval', 'not needed: rotations are pushed, and reconcile repairs drift');
    }
  }
  const policy = text(spec.refreshPolicy);
  if (policy === 'Periodic') f.note('spec.refreshPolicy', 'not needed: rotations are pushed');
  else if (policy !== undefined) {
    f.out('spec.refreshPolicy', `${policy} has no equivalent: eks-secret-sync keeps the Secret current`);
  }
}

/** creationPolicy and deletionPolicy: returns the sync's deletionPolicy when ESO's maps onto one. */
function policies(target: Json, f: Findings): 'retain' | 'delete' | undefined {
  const creation = text(target.creationPolicy);
  if (creation === 'Merge') {
    f.out(
      'spec.target.creationPolicy',
      'Merge has no equivalent: eks-secret-sync writes a Secret whole (adopt: true takes over one it did not create)',
    );
  } else if (creation === 'None') {
    f.out('spec.target.creationPolicy', 'None writes no Secret; there is nothing to sync');
  } else if (creation !== undefined && creation !== 'Owner' && creation !== 'Orphan') {
    f.out('spec.target.creationPolicy', `${creation} is not known to import`);
  }
  if (target.immutable === true) {
    f.out('spec.target.immutable', 'eks-secret-sync does not create immutable Secrets (they could not be rotated)');
  }
  const deletion = text(target.deletionPolicy);
  if (deletion === 'Retain') return 'retain';
  if (deletion === 'Delete') return 'delete';
  if (deletion !== undefined) {
    f.out('spec.target.deletionPolicy', `${deletion} has no equivalent (only Retain and Delete)`);
  }
  return undefined;
}

/** Why a store reference cannot be imported, or undefined when it reads AWS Secrets Manager in our region. */
function storeProblem(
  ref: Json | undefined,
  namespace: string | undefined,
  ctx: Context,
  f: Findings,
  path: string,
): string | undefined {
  if (ref === undefined) return 'names no store (spec.secretStoreRef or sourceRef.storeRef)';
  const kind = text(ref.kind) ?? 'SecretStore';
  const name = text(ref.name) ?? '';
  const store = ctx.stores.get(storeKey(kind, name, namespace));
  if (store === undefined) {
    f.note(path, `${kind} "${name}" is not in the input: assumed AWS Secrets Manager in ${ctx.region}`);
    return undefined;
  }
  if (store.unsupported !== undefined) return store.unsupported;
  if (store.region !== undefined && store.region !== ctx.region) {
    return `store "${name}" reads ${store.region}, the functions ${ctx.region} (import it with --region ${store.region}, for a deployment there)`;
  }
  return undefined;
}

/** Every read of the ExternalSecret whose store can be imported; the others are findings. */
function collectReads(spec: Json, namespace: string, ctx: Context, f: Findings): Read[] {
  const reads: Read[] = [];
  const defaultStore = isRecord(spec.secretStoreRef) ? spec.secretStoreRef : undefined;
  const storeFor = (entry: Json, path: string): boolean => {
    const sourceRef = asRecord(entry.sourceRef);
    if (sourceRef.generatorRef !== undefined) {
      f.out(`${path}.sourceRef.generatorRef`, 'generators have no equivalent');
      return false;
    }
    const ref = isRecord(sourceRef.storeRef) ? sourceRef.storeRef : defaultStore;
    const problem = storeProblem(
      ref,
      namespace,
      ctx,
      f,
      isRecord(sourceRef.storeRef) ? `${path}.sourceRef.storeRef` : 'spec.secretStoreRef',
    );
    if (problem !== undefined) f.out(path, problem);
    return problem === undefined;
  };
  const options = (ref: Json, path: string): boolean => {
    let ok = true;
    for (const field of Object.keys(ref).filter((k) => !REMOTE_REF_FIELDS.has(k))) {
      f.out(`${path}.${field}`, 'is not known to import');
    }
    const version = text(ref.version);
    if (version !== undefined && version !== 'AWSCURRENT') {
      f.out(`${path}.version`, 'pins a version: eks-secret-sync always syncs AWSCURRENT');
      ok = false;
    }
    const decoding = text(ref.decodingStrategy);
    if (decoding !== undefined && decoding !== 'None') {
      f.out(`${path}.decodingStrategy`, `${decoding} decoding has no equivalent`);
      ok = false;
    }
    const conversion = text(ref.conversionStrategy);
    if (conversion !== undefined && conversion !== 'Default') {
      f.out(`${path}.conversionStrategy`, `${conversion} conversion has no equivalent`);
      ok = false;
    }
    const metadataPolicy = text(ref.metadataPolicy);
    if (metadataPolicy !== undefined && metadataPolicy !== 'None') {
      f.out(`${path}.metadataPolicy`, `${metadataPolicy} (the secret's tags) has no equivalent`);
      ok = false;
    }
    return ok;
  };

  (Array.isArray(spec.data) ? spec.data : []).forEach((item, i) => {
    const path = `spec.data[${i}]`;
    const entry = asRecord(item);
    const ref = asRecord(entry.remoteRef);
    const key = text(ref.key);
    const secretKey = text(entry.secretKey);
    if (!storeFor(entry, path)) return;
    if (key === undefined || secretKey === undefined) {
      f.out(path, 'needs secretKey and remoteRef.key');
      return;
    }
    if (!options(ref, `${path}.remoteRef`)) return;
    const property = text(ref.property);
    reads.push({ kind: 'data', path, key, secretKey, ...(property === undefined ? {} : { property }) });
  });
  (Array.isArray(spec.dataFrom) ? spec.dataFrom : []).forEach((item, j) => {
    const path = `spec.dataFrom[${j}]`;
    const entry = asRecord(item);
    if (entry.rewrite !== undefined) {
      f.out(`${path}.rewrite`, 'key rewrites have no equivalent');
      return;
    }
    if (!storeFor(entry, path)) return;
    if (isRecord(entry.extract)) {
      const key = text(entry.extract.key);
      if (key === undefined) {
        f.out(`${path}.extract`, 'needs a key');
        return;
      }
      if (!options(entry.extract, `${path}.extract`)) return;
      const property = text(entry.extract.property);
      reads.push({ kind: 'extract', path: `${path}.extract`, key, ...(property === undefined ? {} : { property }) });
    } else if (isRecord(entry.find)) {
      reads.push({ kind: 'find', path: `${path}.find`, find: entry.find });
    } else {
      f.out(path, 'has neither extract nor find');
    }
  });
  return reads;
}

/** A find as a selector source: its path and `name.regexp` as a name prefix, its tags as tags. */
function findSource(read: Extract<Read, { kind: 'find' }>, f: Findings): Record<string, unknown> | undefined {
  const { find, path } = read;
  f.unknown(find, FIND_FIELDS, path);
  for (const [field, fine] of [
    ['conversionStrategy', 'Default'],
    ['decodingStrategy', 'None'],
  ] as const) {
    const value = text(find[field]);
    if (value !== undefined && value !== fine) {
      f.out(`${path}.${field}`, `${value} has no equivalent`);
      return undefined;
    }
  }
  const prefixes: string[] = [];
  if (text(find.path) !== undefined) prefixes.push(text(find.path) as string);
  const regexp = text(asRecord(find.name).regexp);
  if (regexp !== undefined) {
    const prefix = regexpPrefix(regexp);
    if (prefix === undefined) {
      f.out(
        `${path}.name.regexp`,
        'is not a name prefix ("^" and literal characters, optionally ".*"): no selector expresses it',
      );
      return undefined;
    }
    prefixes.push(prefix);
  }
  // Both must hold: the longer prefix, when one extends the other; otherwise no name matches both.
  prefixes.sort((a, b) => b.length - a.length);
  const [namePrefix, other] = prefixes;
  if (namePrefix !== undefined && other !== undefined && !namePrefix.startsWith(other)) {
    f.out(path, 'path and name.regexp name prefixes that no secret name can have together');
    return undefined;
  }
  const tags = sortedRecord(stringMap(find.tags));
  const hasTags = Object.keys(tags).length > 0;
  if (namePrefix === undefined && !hasTags) {
    f.out(path, 'finds every secret of the account: name a path, a name prefix or tags');
    return undefined;
  }
  f.out(
    path,
    'ESO writes every match into this one Secret (a key per secret); the selector sync writes one Secret per ' +
      'matched secret, named after it, with its JSON keys (target.name is not used)',
  );
  return { ...(namePrefix === undefined ? {} : { namePrefix }), ...(hasTags ? { tags } : {}) };
}

/** The Secret keys of a single-source sync (`keys`, `asKey`, or nothing for all keys); undefined when none map. */
function mapKeys(
  key: string,
  reads: readonly Read[],
  template: Json | undefined,
  f: Findings,
): Record<string, unknown> | undefined {
  const variables = new Map<string, { variable: string } | { problem: string }>();
  const keys: Record<string, KeyRef> = {};
  const keyPlace = new Map<string, string>();
  const whole: Array<Extract<Read, { kind: 'data' }>> = [];
  const entries: Array<Extract<Read, { kind: 'data' }>> = [];
  let all = false;
  for (const read of reads) {
    if (read.kind === 'find') {
      f.out(read.path, 'a find next to other reads: a selector sync cannot share its Secret');
      continue;
    }
    if (read.key !== key) {
      f.out(read.path, `reads secret "${read.key}" too: a sync writes its Secret from one source secret ("${key}")`);
      if (read.kind === 'data') variables.set(read.secretKey, { problem: 'comes from another source secret' });
      continue;
    }
    if (read.kind === 'extract') {
      if (read.property === undefined) all = true;
      else
        f.out(`${read.path}.property`, 'extracts the object at a property: only the top-level keys can be (keys: all)');
      continue;
    }
    const problem = secretKeyProblem(read.secretKey);
    if (problem !== undefined) {
      f.out(`${read.path}.secretKey`, `Secret key ${JSON.stringify(read.secretKey)} ${problem}`);
      continue;
    }
    if (read.property === undefined) {
      variables.set(read.secretKey, { problem: 'is the whole secret string; template variables are its JSON keys' });
      whole.push(read);
      continue;
    }
    const ref = propertyKeyRef(read.property);
    if ('problem' in ref) {
      f.out(`${read.path}.remoteRef.property`, `${JSON.stringify(read.property)} ${ref.problem}`);
      variables.set(read.secretKey, { problem: 'comes from a data entry that is left out' });
      continue;
    }
    // A later entry for the same key wins, as in ESO.
    const earlier = keyPlace.get(read.secretKey);
    if (earlier !== undefined) f.out(earlier, `is overridden by ${read.path} (same secretKey)`);
    keys[read.secretKey] = ref.ref;
    keyPlace.set(read.secretKey, read.path);
    entries.push(read);
    variables.set(read.secretKey, propertyVariable(read.property));
  }

  const templateKeys = mapTemplates(template, variables, all, f);
  const templated =
    template !== undefined &&
    ((isRecord(template.data) && Object.keys(template.data).length > 0) || template.templateFrom !== undefined);
  const mergePolicy = text(template?.mergePolicy) ?? 'Replace';
  if (mergePolicy !== 'Replace' && mergePolicy !== 'Merge') {
    f.out('spec.target.template.mergePolicy', `${mergePolicy} is not known to import`);
  }
  const nothing = (): undefined => {
    f.out('spec', 'no key of this Secret could be imported');
    return undefined;
  };
  if (templated && mergePolicy !== 'Merge') {
    // Replace: the Secret holds the templated keys only; the data entries were their variables.
    return Object.keys(templateKeys).length > 0 ? { keys: templateKeys } : nothing();
  }
  if (all) {
    for (const e of entries) {
      if (keys[e.secretKey] !== e.secretKey) f.out(e.path, 'cannot be combined with a dataFrom extract (keys: all)');
    }
    for (const w of whole) f.out(w.path, 'cannot be combined with a dataFrom extract (keys: all)');
    for (const name of Object.keys(templateKeys)) {
      f.out(`spec.target.template.data.${name}`, 'cannot be combined with a dataFrom extract (keys: all)');
    }
    return {};
  }
  if (whole.length === 1 && Object.keys(keys).length === 0 && Object.keys(templateKeys).length === 0) {
    return { asKey: (whole[0] as Extract<Read, { kind: 'data' }>).secretKey };
  }
  for (const w of whole) {
    f.out(`${w.path}.remoteRef`, 'puts the whole secret string under one key next to other keys (name a property)');
  }
  const combined = { ...keys, ...templateKeys };
  return Object.keys(combined).length > 0 ? { keys: combined } : nothing();
}

/** `template.data` as `{ template }` key mappings; the keys that cannot be are findings. */
function mapTemplates(
  template: Json | undefined,
  variables: Map<string, { variable: string } | { problem: string }>,
  all: boolean,
  f: Findings,
): Record<string, KeyRef> {
  const out: Record<string, KeyRef> = {};
  if (template === undefined) return out;
  if (template.templateFrom !== undefined) {
    f.out('spec.target.template.templateFrom', 'templates from ConfigMaps or Secrets have no equivalent');
  }
  if (!isRecord(template.data)) return out;
  const engine = text(template.engineVersion) ?? 'v2';
  if (engine !== 'v2') {
    f.out('spec.target.template.engineVersion', `${engine} templates are not imported (only v2)`);
    return out;
  }
  for (const [name, value] of Object.entries(template.data)) {
    const place = `spec.target.template.data.${name}`;
    const problem = secretKeyProblem(name);
    if (problem !== undefined) {
      f.out(place, `Secret key ${JSON.stringify(name)} ${problem}`);
      continue;
    }
    const rewritten = rewriteTemplate(text(value) ?? '', (variable) => {
      const known = variables.get(variable);
      if (known !== undefined) return known;
      return all
        ? { variable: `.${variable}` }
        : { problem: 'is defined by no data[] entry or extract of this ExternalSecret' };
    });
    if ('problem' in rewritten) f.out(place, `template ${rewritten.problem}`);
    else out[name] = { template: rewritten.template };
  }
  return out;
}
