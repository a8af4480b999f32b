/**
 * `eks-secret-sync import`: External Secrets Operator manifests -> a configuration. Pure functions over parsed
 * documents (reading files, stdin or clusters is the CLI's); the same input always gives the same output.
 */
import { Document, isScalar, isSeq, visit } from 'yaml';
import { InputError } from '../errors.js';
import { type Context, type MappedExternalSecret, mapExternalSecret } from './external-secret.js';
import type { Manifest } from './manifests.js';
import { esoKind, readStores, storeKey } from './stores.js';
import type { Finding, ImportedSync, ImportOptions, ImportResult } from './types.js';

export { isRecord, type Manifest, parseManifests } from './manifests.js';
export type { Finding, ImportedSync, ImportOptions, ImportResult } from './types.js';

/** What each other ESO kind is, for its finding. */
const OTHER_KINDS: Record<string, string> = {
  ClusterExternalSecret: 'makes ExternalSecrets in many namespaces: import the ExternalSecrets it made instead',
  PushSecret: 'writes to the provider; eks-secret-sync only reads Secrets Manager',
};

/** The regions of the AWS stores the ExternalSecrets use (stores not in the input count for none). */
function usedRegions(manifests: readonly Manifest[], ctx: Omit<Context, 'region'>): string[] {
  const regions = new Set<string>();
  for (const m of manifests) {
    if (esoKind(m.body) !== 'ExternalSecret') continue;
    const metadata = m.body.metadata as Record<string, unknown> | undefined;
    const namespace = (metadata?.namespace as string | undefined) ?? ctx.options.namespace;
    const spec = (m.body.spec ?? {}) as Record<string, unknown>;
    const refs = [spec.secretStoreRef];
    for (const list of [spec.data, spec.dataFrom]) {
      if (Array.isArray(list))
        for (const e of list) refs.push((e as { sourceRef?: { storeRef?: unknown } })?.sourceRef?.storeRef);
    }
    for (const ref of refs) {
      if (typeof ref !== 'object' || ref === null) continue;
      const { kind = 'SecretStore', name = '' } = ref as { kind?: string; name?: string };
      const region = ctx.stores.get(storeKey(kind, name, namespace))?.region;
      if (region !== undefined) regions.add(region);
    }
  }
  return [...regions].sort();
}

/**
 * Maps every ExternalSecret (with the SecretStores and ClusterSecretStores of the input) onto one sync each, and
 * lists what could not be carried over. Throws InputError when no region can be decided.
 */
export function importManifests(manifests: readonly Manifest[], options: ImportOptions): ImportResult {
  const stores = readStores(manifests, options.namespace);
  const regions = usedRegions(manifests, { stores, options });
  let region = options.region;
  if (region === undefined) {
    if (regions.length > 1) {
      throw new InputError(
        'InvalidInput',
        `the stores read several regions (${regions.join(', ')}): pass --region for the one the functions run in, and import the others for deployments of their own`,
      );
    }
    region = regions[0];
  }
  if (region === undefined) {
    throw new InputError('InvalidInput', 'no store in the input names a region: pass --region');
  }
  const ctx: Context = { stores, region, options };
  const leftOut: Finding[] = [];
  const notes: Finding[] = [];
  for (const store of stores.values()) leftOut.push(...store.findings);
  const mapped: MappedExternalSecret[] = [];
  let otherDocuments = 0;
  for (const m of manifests) {
    const kind = esoKind(m.body);
    if (kind === undefined) otherDocuments++;
    else if (kind === 'ExternalSecret') mapped.push(mapExternalSecret(m, ctx));
    else if (kind !== 'SecretStore' && kind !== 'ClusterSecretStore') {
      leftOut.push({
        place: m.where,
        reason: `${kind || 'an object without a kind'} ${OTHER_KINDS[kind] ?? 'has no equivalent'}`,
      });
    }
  }
  if (mapped.length === 0 && leftOut.length === 0) {
    throw new InputError('InvalidInput', 'the input holds no ExternalSecret');
  }
  // Two ExternalSecrets writing one Secret would be refused by validate: the first one keeps it.
  const written = new Map<string, string>();
  const syncs: ImportedSync[] = [];
  for (const m of mapped) {
    if (m.sync !== undefined && m.secretName !== undefined) {
      const key = `${m.namespace}/${m.secretName}`;
      const other = written.get(key);
      if (other !== undefined) {
        m.leftOut.push({ place: `${m.where}.spec.target.name`, reason: `Secret ${key} is also written by ${other}` });
        delete m.sync;
      } else {
        written.set(key, m.from);
      }
    }
    leftOut.push(...m.leftOut);
    notes.push(...m.notes);
    if (m.sync !== undefined) syncs.push({ from: m.from, leftOut: m.leftOut, notes: m.notes, sync: m.sync });
  }
  const clusters: Record<string, unknown> = {};
  for (const c of options.clusters) clusters[c.name] = { eks: { name: c.name, region: c.region ?? region } };
  return {
    config: syncs.length === 0 ? undefined : { clusters, syncs: syncs.map((s) => s.sync) },
    syncs,
    region,
    leftOut,
    notes,
    otherDocuments,
  };
}

/** A finding as one line: `apps/db.yaml:0.spec.refreshInterval: reason`. */
export function findingLine(finding: Finding): string {
  return `${finding.place}: ${finding.reason}`;
}

/** The configuration as YAML, each sync under a comment saying where it came from and what was left out of it. */
export function renderConfig(result: ImportResult): string {
  if (result.config === undefined) return '';
  const doc = new Document(result.config);
  // Lists of names (clusters, namespaces) on one line, as people write them.
  visit(doc, {
    Seq(_key, node) {
      if (isSeq(node) && node.items.every((item) => isScalar(item))) node.flow = true;
    },
  });
  doc.commentBefore = [
    ' Imported from External Secrets Operator manifests by `eks-secret-sync import`.',
    ` Secrets Manager region: ${result.region} (deploy the functions there). Check it with: eks-secret-sync validate`,
    result.leftOut.length === 0
      ? ' Complete: nothing was left out.'
      : ` ${result.leftOut.length} thing(s) left out: see the "left out" comments and the import's output.`,
  ].join('\n');
  const seq = doc.get('syncs', true) as { items: Array<{ commentBefore?: string | null }> };
  result.syncs.forEach((sync, i) => {
    const item = seq.items[i];
    if (item === undefined) return;
    item.commentBefore = [` from ${sync.from}`, ...sync.leftOut.map((f) => ` left out: ${findingLine(f)}`)].join('\n');
  });
  return doc.toString({ lineWidth: 0 });
}
