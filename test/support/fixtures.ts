/**
 * The unit tests' shared world: configurations over the fake EKS clusters `eu` and `us`, and an engine over the
 * in-memory fakes of test/support/fakes.ts. Engine, status, runtime and Events tests build on it.
 */
import { parseConfig } from '../../lib/config/index.js';
import { consumerHashAnnotation } from '../../lib/domain/names.js';
import type { SyncRequest } from '../../lib/domain/request.js';
import { type EngineDeps, SyncEngine } from '../../lib/sync/engine.js';
import { envFromSpec, FakeConnector, FakeKubeApi, FakeSecretSource, InFlightMeter } from './fakes.js';

/** A value that must never leave the data path. */
export const CANARY = 'pa55-CANARY-91c2e7';
/** The fixed clock of the unit tests' engines. */
export const NOW = new Date('2026-12-03T10:00:00.000Z');

const REGIONS: Record<string, string> = { eu: 'eu-west-1', us: 'us-east-1' };

/** The `clusters:` block naming fake EKS clusters (`eu` in eu-west-1, `us` in us-east-1, others in eu-west-1). */
export function eksClusters(...names: string[]): string {
  const lines = names.map((c) => `  ${c}: { eks: { name: ${c}, region: ${REGIONS[c] ?? 'eu-west-1'} } }`);
  return `clusters:\n${lines.join('\n')}\n`;
}

/** `prod/db` into Secret `db` of namespaces payments and canary of clusters eu and us. */
export const FLEET = `${eksClusters('eu', 'us')}syncs:
  - source: { secret: prod/db }
    targets:
      - clusters: [eu, us]
        namespaces: [payments, canary]
        secret: db
`;

/** Where each fake cluster's namespaces are: `eu` and `us`, each with payments and canary. */
export const FLEET_NAMESPACES: Record<string, string[]> = { eu: ['payments', 'canary'], us: ['payments', 'canary'] };

export interface WorldOptions {
  now?: Date;
  /** More engine deps (a log, a sleep). */
  engine?: Partial<Omit<EngineDeps, 'config' | 'source' | 'clusters'>>;
}

/** Clusters with their namespaces, a source, a connector and an engine over them (a fixed clock when `now`). */
export function fakeWorld(
  yaml: string,
  clusters: Record<string, string[]> = FLEET_NAMESPACES,
  options: WorldOptions = {},
) {
  const config = parseConfig(yaml);
  const meter = new InFlightMeter();
  const apis = Object.entries(clusters).map(([name, namespaces]) => new FakeKubeApi(name, { namespaces, meter }));
  const connector = new FakeConnector(apis);
  const source = new FakeSecretSource();
  const { now } = options;
  const engine = new SyncEngine({
    config,
    source,
    clusters: connector,
    ...(now === undefined ? {} : { now: () => now }),
    ...options.engine,
  });
  const api = (name: string) => connector.api(name);
  return { config, meter, connector, source, engine, api, apis };
}

/** A rotation request (restarting, not a dry run) with `overrides`. */
export function syncRequest(overrides: Partial<SyncRequest> = {}): SyncRequest {
  return { trigger: 'rotation', dryRun: false, restart: true, ...overrides };
}

/** The row of `rows` for one binding; throws naming it when there is none. */
export function bindingOf<R extends { cluster: string; namespace: string; secret: string }>(
  rows: R[],
  cluster: string,
  namespace: string,
  secret = 'db',
): R {
  const found = rows.find((r) => r.cluster === cluster && r.namespace === namespace && r.secret === secret);
  if (found === undefined) throw new Error(`no binding ${cluster}/${namespace}/${secret}`);
  return found;
}

/** A Deployment `name` consuming Secret `secret` (envFrom) whose pod template carries `hash`, an earlier restart's. */
export function seedConsumerAt(api: FakeKubeApi, namespace: string, name: string, hash: string, secret = 'db'): void {
  api.seedWorkload({
    namespace,
    name,
    podSpec: envFromSpec(secret),
    templateAnnotations: { [consumerHashAnnotation(secret)]: hash },
  });
}

/** A Deployment `name` consuming Secret `secret` (envFrom) in every namespace of each API. */
export function seedConsumers(apis: FakeKubeApi[], secret = 'db', name = 'web'): void {
  for (const api of apis) {
    for (const namespace of api.namespaces) api.seedWorkload({ namespace, name, podSpec: envFromSpec(secret) });
  }
}
