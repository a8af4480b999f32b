/**
 * Rotation -> the whole fleet rolled out, in three health-gated waves (README "Waves"): one secret consumed by a
 * Deployment of two pods (kwok runs them, so rolling updates really complete) in each of the first three clusters,
 * one cluster per wave, as the engine runs it without a continuation queue (one pass writes every wave that is healthy
 * in turn, as the CLI does). Per wave: when its Secret was written and its consumer restarted, and when the gate
 * found it rolled out, both counted from the PutSecretValue.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../lib/config/index.js';
import { createEngine } from '../../lib/wiring/index.js';
import type { Section } from '../section.js';
import {
  consumerDeployment,
  ensureDeployment,
  ensureNamespace,
  ensureSecrets,
  rotate,
  settleConsumers,
} from '../stack.js';
import { type Timing, timing } from '../stats.js';

const SECRET = 'bench/waves/app-db';
const NAMESPACE = 'bench-waves';
const K8S_SECRET = 'bench-waves-db';
const CONSUMER = 'bench-waves-web';
const WAVES = 3;

export interface WaveRow {
  wave: number;
  cluster: string;
  /** Secret written and consumer restarted, ms after the rotation. */
  written: Timing;
  /** The gate found the wave rolled out, ms after the rotation. */
  rolledOut: Timing;
}

export interface WavesResult {
  iterations: number;
  rows: WaveRow[];
  /** Rotation -> last wave rolled out (the pass's end). */
  total: Timing;
  problems: string[];
}

export const waves: Section<WavesResult> = {
  key: 'waves',
  title: (o) =>
    `waves: rotation -> fleet rolled out, 3 waves of 1 cluster, 2 kwok pods each (${o.fanoutIterations} rotations)`,
  async run({ options, stack, admins, sm }) {
    const clusters = stack.clusters.slice(0, WAVES);
    if (clusters.length < WAVES) throw new Error(`waves needs ${WAVES} clusters, the stack runs ${clusters.length}`);
    const path = join(stack.stackDir, 'bench-waves.yaml');
    writeFileSync(
      path,
      [
        '# Written by npm run bench: one secret in three waves of one cluster.',
        'clusters:',
        ...clusters.map((c) => `  ${c.name}: { kubeconfig: { path: ${stack.syncKubeconfig}, context: ${c.context} } }`),
        'defaults: { rollout: { waitMs: 60000 } }',
        'syncs:',
        `  - source: { secret: ${SECRET} }`,
        `    targets: [{ clusters: [${clusters.map((c) => c.name).join(', ')}], namespaces: [${NAMESPACE}], secret: ${K8S_SECRET} }]`,
        `    rollout: { waves: [${clusters.map((c) => `[${c.name}]`).join(', ')}], healthTimeout: 5m }`,
        '',
      ].join('\n'),
    );
    await ensureSecrets(sm, 'bench/waves/', [SECRET]);
    const fleet = admins.slice(0, WAVES);
    for (const admin of fleet) {
      await ensureNamespace(admin, NAMESPACE);
      const body = consumerDeployment(CONSUMER, [K8S_SECRET]);
      if (body.spec !== undefined) body.spec.replicas = 2;
      await ensureDeployment(admin, NAMESPACE, body);
    }
    const settle = () =>
      settleConsumers(
        fleet.map((admin) => ({ admin, namespace: NAMESPACE, name: CONSUMER })),
        30_000,
      );
    // Each log line of the pass, timed: the clusters' results (written + restarted) and the waves found healthy.
    let start = 0;
    let marks: Array<{ what: 'written' | 'rolledOut'; cluster?: string; wave?: number; at: number }> = [];
    const engine = createEngine({
      config: parseConfig(readFileSync(path, 'utf8')),
      log: {
        info: (message, attributes) => {
          if (message === 'wave' && attributes?.state === 'healthy') {
            marks.push({ what: 'rolledOut', wave: attributes.wave as number, at: performance.now() - start });
          }
        },
        warn: () => {},
        clusterDone: (p) => marks.push({ what: 'written', cluster: p.cluster, at: performance.now() - start }),
      },
    });
    const written = clusters.map(() => [] as number[]);
    const rolled = clusters.map(() => [] as number[]);
    const total: number[] = [];
    const problems = new Set<string>();
    // One untimed rotation first: connections and caches as in a warm container.
    for (let i = 0; i <= options.fanoutIterations; i++) {
      await settle();
      marks = [];
      start = performance.now();
      const { versionId } = await rotate(sm, SECRET);
      const report = await engine.run({
        trigger: 'rotation',
        dryRun: false,
        restart: true,
        secrets: [SECRET],
        versionId,
      });
      const ms = performance.now() - start;
      const outcomes = report.results.flatMap((r) => r.restarted.map((w) => w.rollout));
      if (report.waves?.[0]?.state !== 'done' || outcomes.length !== WAVES || outcomes.some((o) => o !== 'rolledOut')) {
        problems.add(`waves ${report.waves?.[0]?.state ?? 'none'}, rollouts ${outcomes.join(',')}`);
        continue;
      }
      if (i === 0) continue;
      total.push(ms);
      clusters.forEach((c, w) => {
        written[w]?.push(marks.find((m) => m.what === 'written' && m.cluster === c.name)?.at ?? Number.NaN);
        rolled[w]?.push(marks.find((m) => m.what === 'rolledOut' && m.wave === w + 1)?.at ?? Number.NaN);
      });
    }
    const rows = clusters.map((c, w) => ({
      wave: w + 1,
      cluster: c.name,
      written: timing(written[w] ?? []),
      rolledOut: timing(rolled[w] ?? []),
    }));
    for (const row of rows) {
      console.log(
        `  wave ${row.wave} (${row.cluster}): written p50 ${row.written.p50} ms, rolled out p50 ${row.rolledOut.p50} ms`,
      );
    }
    return { iterations: total.length, rows, total: timing(total), problems: [...problems].slice(0, 5) };
  },
  tables: (result) => [
    {
      title: `Rotation -> each wave written and rolled out, ms after PutSecretValue (${result.iterations} rotations)`,
      columns: [
        { header: 'wave', cell: (x: WaveRow) => `${x.wave} (${x.cluster})` },
        { header: 'written p50', cell: (x: WaveRow) => x.written.p50 },
        { header: 'written max', cell: (x: WaveRow) => x.written.max },
        { header: 'rolled out p50', cell: (x: WaveRow) => x.rolledOut.p50 },
        { header: 'rolled out p95', cell: (x: WaveRow) => x.rolledOut.p95 },
        { header: 'rolled out max', cell: (x: WaveRow) => x.rolledOut.max },
      ],
      rows: result.rows,
    },
    `whole fleet rolled out: p50 ${result.total.p50} ms, p95 ${result.total.p95} ms, max ${result.total.max} ms${result.problems.length > 0 ? `; problems: ${result.problems.join('; ')}` : ''}`,
  ],
};
