/**
 * Load: a burst of 500 rotation events over 50 secrets mapped into 2 namespaces of 3 clusters (300 Secrets),
 * delivered out of order by concurrent invocations while the secrets keep rotating; then quick successive rotations
 * of one secret whose events are synced by parallel invocations (the pass that read the older version must not
 * have the last word). The engine runs with the real
 * adapters behind a counting decorator, so the calls in flight per cluster are measured per pass and overall.
 *
 * The bound per pass and cluster is exactly `bindingConcurrency`: applyCluster runs that many namespace workers, and
 * each worker has one call in flight at a time (Secret reads and writes, then the three workload lists one after
 * the other, then the conditional restart patches one at a time).
 */
import type { V1Secret } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClusterConnector } from '../../../lib/clusters/connector.js';
import { type Config, parseConfig } from '../../../lib/config/index.js';
import { createSecretsManagerSource } from '../../../lib/source/secrets-manager.js';
import { mapLimit } from '../../../lib/sync/concurrency.js';
import { SyncEngine } from '../../../lib/sync/engine.js';
import type { ClusterConnector } from '../../../lib/sync/ports/kube.js';
import type { SecretSource } from '../../../lib/sync/ports/source.js';
import type { SyncReport } from '../../../lib/sync/types.js';
import * as helpers from './helpers.js';

const { output, guard, run } = helpers.reliabilityRun();
const engineLines: string[] = [];

const SECRETS = 50;
const ROTATIONS = 10;
const INVOCATIONS = 8;
const BINDING_CONCURRENCY = 2;

let clusters: string[];
let namespaces: string[];
let config: Config;
let source: SecretSource;
let connector: ClusterConnector;
const names = Array.from({ length: SECRETS }, (_, i) => `rel/load-${run}/s-${String(i).padStart(2, '0')}`);
const k8sName = (i: number) => `s-${String(i).padStart(2, '0')}`;
/** The last value put per secret (what every mirror must hold at the end). */
const latest = new Map<string, string>();

function value(i: number, round: number): { token: string } {
  const v = { token: `load-${run}-${i}-${round}-${crypto.randomUUID().slice(0, 8)}` };
  guard.seed(`s-${i} r${round}`, v);
  return v;
}

/** One invocation: its own per-pass meter and the overall meter, over the container's shared connector. */
async function invocation(
  secrets: string[] | undefined,
  trigger: 'rotation' | 'reconcile',
  overall: helpers.KubeCallMeter,
): Promise<{ report: SyncReport; pass: helpers.KubeCallMeter }> {
  const pass = new helpers.KubeCallMeter();
  const engine = new SyncEngine({
    config,
    source,
    clusters: helpers.meteredConnector(helpers.meteredConnector(connector, overall), pass),
    log: helpers.collectingLog(engineLines),
  });
  const report = await engine.run({
    trigger,
    dryRun: false,
    restart: true,
    ...(secrets === undefined ? {} : { secrets }),
  });
  guard.collect(report);
  return { report, pass };
}

async function mirrors(): Promise<Array<{ where: string; token: string }>> {
  const out: Array<{ where: string; token: string }> = [];
  for (const cluster of clusters) {
    for (const namespace of namespaces) {
      const { items } = await helpers.adminApis(cluster).core.listNamespacedSecret({ namespace });
      const byName = new Map(items.map((s: V1Secret) => [s.metadata?.name ?? '', s]));
      for (let i = 0; i < SECRETS; i++) {
        const secret = byName.get(k8sName(i));
        const token = Buffer.from(secret?.data?.token ?? '', 'base64').toString('utf8');
        out.push({ where: `${cluster}/${namespace}/${k8sName(i)}`, token });
      }
    }
  }
  return out;
}

beforeAll(async () => {
  clusters = helpers.stack().clusters.slice(0, 3);
  namespaces = [];
  for (let i = 0; i < 2; i++) namespaces.push((await helpers.freshNamespace(clusters, { prefix: 'rel-load' })).name);
  await mapLimit(names, 8, async (name, i) => {
    const v = value(i, 0);
    await helpers.createSecret(name, v);
    latest.set(name, v.token);
  });
  config = parseConfig(`clusters:
${helpers.kubeconfigClusters(clusters)}
defaults: { bindingConcurrency: ${BINDING_CONCURRENCY}, clusterConcurrency: 8 }
syncs:
${names
  .map(
    (name, i) =>
      `  - source: { secret: ${name} }\n    targets:\n      - { clusters: [${clusters.join(', ')}], namespaces: [${namespaces.join(', ')}], secret: ${k8sName(i)} }`,
  )
  .join('\n')}
`);
  source = createSecretsManagerSource(helpers.runtimeSecretsManager());
  connector = createClusterConnector(config.clusters);
});

let processed = 0;

describe(`a burst of ${SECRETS * ROTATIONS} rotation events over ${SECRETS} secrets and 3 clusters`, () => {
  const overall = new helpers.KubeCallMeter();
  const passMax = new Map<string, number>();
  const actions = new Map<string, number>();
  let failedPasses = 0;

  it('converges: every mirror holds its secret’s last value, and no update is lost', async () => {
    const started = Date.now();
    // Producer: rotations round after round; each put is followed by its event. Consumers: concurrent invocations
    // that take events in random order (EventBridge does not order deliveries).
    const queue: Array<{ secret: string }> = [];
    let producing = true;
    const producer = (async () => {
      for (let round = 1; round <= ROTATIONS; round++) {
        const order = names.map((_, i) => i).sort(() => Math.random() - 0.5);
        for (const i of order) {
          const name = names[i] as string;
          const v = value(i, round);
          await helpers.putSecret(name, v);
          latest.set(name, v.token);
          queue.push({ secret: name });
        }
      }
      producing = false;
    })();
    const consumer = async () => {
      while (producing || queue.length > 0) {
        if (queue.length === 0) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        const [event] = queue.splice(Math.floor(Math.random() * queue.length), 1);
        if (event === undefined) continue;
        const { report, pass } = await invocation([event.secret], 'rotation', overall);
        processed += 1;
        if (report.summary.failed > 0) failedPasses += 1;
        for (const r of report.results) actions.set(r.action, (actions.get(r.action) ?? 0) + 1);
        for (const cluster of clusters)
          passMax.set(cluster, Math.max(passMax.get(cluster) ?? 0, pass.maxInFlight(cluster)));
      }
    };
    await Promise.all([producer, ...Array.from({ length: INVOCATIONS }, consumer)]);

    const final = await mirrors();
    const lost = final.filter((m) => {
      const i = Number(m.where.slice(-2));
      return m.token !== latest.get(names[i] as string);
    });
    console.info(
      `[reliability] load: ${processed} events in ${Date.now() - started} ms, actions ${JSON.stringify(Object.fromEntries(actions))}, failed passes ${failedPasses}, lost updates ${lost.length}, max in flight per pass ${JSON.stringify(Object.fromEntries(passMax))}, overall ${JSON.stringify(Object.fromEntries(overall.max))}`,
    );

    if (process.env.REL_DEBUG) {
      for (const [key, n] of overall.calls) console.info(key, n, Math.round((overall.millis.get(key) ?? 0) / n), 'ms');
    }
    expect(processed).toBe(SECRETS * ROTATIONS);
    expect(failedPasses).toBe(0);
    expect(final).toHaveLength(SECRETS * clusters.length * namespaces.length);
    expect(lost.map((m) => m.where)).toEqual([]);
  }, 240_000);

  it(`stays within bindingConcurrency (${BINDING_CONCURRENCY}) calls in flight per cluster and pass`, () => {
    for (const cluster of clusters) {
      expect(passMax.get(cluster), cluster).toBeGreaterThanOrEqual(1);
      expect(passMax.get(cluster), cluster).toBeLessThanOrEqual(BINDING_CONCURRENCY);
      // Across the concurrent invocations of one container: at most one pass's bound each.
      expect(overall.maxInFlight(cluster), cluster).toBeLessThanOrEqual(INVOCATIONS * BINDING_CONCURRENCY);
    }
  });

  it('a reconcile afterwards finds no drift, within the same bound', async () => {
    const { report, pass } = await invocation(undefined, 'reconcile', overall);
    processed += 1;
    expect(report.results).toHaveLength(SECRETS * clusters.length * namespaces.length);
    expect(report.summary.failed).toBe(0);
    expect(report.results.filter((r) => r.drift).map((r) => `${r.cluster}/${r.namespace}/${r.secret}`)).toEqual([]);
    for (const cluster of clusters) {
      // Here the bound is reached: 100 bindings per cluster in two namespaces.
      expect(pass.maxInFlight(cluster), cluster).toBe(BINDING_CONCURRENCY);
    }
  }, 120_000);
});

describe('quick successive rotations of one secret synced by parallel invocations', () => {
  it('ends every mirror on the last version in every trial', async () => {
    const name = `rel/load-${run}/race`;
    await helpers.createSecret(name, value(99, 0));
    const raceConfig = parseConfig(`clusters:
${helpers.kubeconfigClusters(clusters)}
syncs:
  - source: { secret: ${name} }
    targets:
      - { clusters: [${clusters.join(', ')}], namespaces: [${namespaces.join(', ')}], secret: race }
`);
    const engine = new SyncEngine({
      config: raceConfig,
      source,
      clusters: createClusterConnector(raceConfig.clusters),
      log: helpers.collectingLog(engineLines),
    });
    let failed = 0;
    const pass = async (): Promise<boolean> => {
      const report = await engine.run({ trigger: 'rotation', secrets: [name], dryRun: false, restart: true });
      guard.collect(report);
      processed += 1;
      if (report.summary.failed > 0) failed += 1;
      return report.summary.failed === 0;
    };
    const lost: string[] = [];
    for (let trial = 1; trial <= 4; trial++) {
      let last = '';
      let rotating = true;
      // Rotations every few milliseconds; each put's event is taken by one of six busy invocations, and the
      // event of the last put arrives while passes that read earlier versions are still in flight.
      const producer = (async () => {
        for (let round = 1; round <= 12; round++) {
          const v = value(99, trial * 100 + round);
          await helpers.putSecret(name, v);
          last = v.token;
          await new Promise((r) => setTimeout(r, Math.random() * 30));
        }
        rotating = false;
        // A pass that failed (e.g. 409s exhausted) is retried by the platform; so here.
        for (let attempt = 0; attempt < 3 && !(await pass()); attempt++);
      })();
      const invocations = Array.from({ length: 6 }, async () => {
        while (rotating) await pass();
      });
      await Promise.all([producer, ...invocations]);
      for (const cluster of clusters) {
        for (const namespace of namespaces) {
          const secret = await helpers.adminApis(cluster).core.readNamespacedSecret({ namespace, name: 'race' });
          const token = Buffer.from(secret.data?.token ?? '', 'base64').toString('utf8');
          if (token !== last) lost.push(`trial ${trial}: ${cluster}/${namespace}`);
        }
      }
    }
    console.info(`[reliability] race: 4 trials of 12 rotations, ${failed} failed passes, ${lost.length} lost updates`);
    expect(lost).toEqual([]);
  }, 120_000);
});

describe('leakage', () => {
  it('no seeded value appears in any log line, report or error of this file', () => {
    console.info(`[reliability] load: ${processed} engine passes in total`);
    expect(guard.seedCount).toBeGreaterThanOrEqual(SECRETS * (ROTATIONS + 1));
    expect(guard.hits([output.text(), ...engineLines].join('\n'))).toEqual([]);
  });
});
