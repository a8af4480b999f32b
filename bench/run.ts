/**
 * `npm run bench`: propagation latency, API cost and scale on the local stack. Brings the stack up with five
 * clusters, seeds it (bench/fixtures.ts), runs the sections of bench/sections/ in order, prints their tables and
 * writes bench/results/latest.json. Values are never printed: names, counts and times only.
 *
 * Options: --iterations N (timed rotations per case, default and minimum 10), --fanout-iterations N (default 5),
 * --reconcile-iterations N (default 3), --only rotation,calls,burst,probe,fanout,model,scale,reconcile,waves,bundles. Sections
 * that need no stack (`stack: false`: model, scale) run without one when only they are selected.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { HttpCounter } from './counting.js';
import { CLUSTERS, settleCase, setup } from './fixtures.js';
import { type Bench, formatTable, type Options, type Section } from './section.js';
import { bundles } from './sections/bundles.js';
import { burst } from './sections/burst.js';
import { calls } from './sections/calls.js';
import { fanout } from './sections/fanout.js';
import { model } from './sections/model.js';
import { probe } from './sections/probe.js';
import { reconcile } from './sections/reconcile.js';
import { rotation } from './sections/rotation.js';
import { scale } from './sections/scale.js';
import { waves } from './sections/waves.js';
import { adminApis, stackEnv, stackScript } from './stack.js';
import { round } from './stats.js';

/** In the order they run and print. */
// biome-ignore lint/suspicious/noExplicitAny: each section has its own result type.
const SECTIONS: Array<Section<any>> = [rotation, calls, burst, probe, fanout, model, scale, reconcile, waves, bundles];

function parseOptions(): Options & { only: Set<string> } {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string', default: '10' },
      'fanout-iterations': { type: 'string', default: '5' },
      'reconcile-iterations': { type: 'string', default: '3' },
      only: { type: 'string', default: SECTIONS.map((s) => s.key).join(',') },
    },
  });
  const only = new Set(values.only.split(',').map((x) => x.trim()));
  for (const x of only) {
    if (!SECTIONS.some((s) => s.key === x)) throw new Error(`--only: unknown section "${x}"`);
  }
  return {
    iterations: Math.max(10, Number(values.iterations)),
    fanoutIterations: Math.max(1, Number(values['fanout-iterations'])),
    reconcileIterations: Math.max(1, Number(values['reconcile-iterations'])),
    only,
  };
}

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const log = (s: string) => console.log(s);
const elapsed = (start: number) => `${((performance.now() - start) / 1000).toFixed(1)} s`;

/** Starts (or extends) the local stack, seeds it and returns what the sections run against. */
async function prepare(options: Options, onUnsettled: (n: number) => void): Promise<Bench> {
  stackScript(['up', '--clusters', String(CLUSTERS)], true);
  const stack = stackEnv();
  if (stack.clusters.length < CLUSTERS) {
    throw new Error(`the stack runs ${stack.clusters.length} clusters, need ${CLUSTERS}`);
  }
  stack.clusters = stack.clusters.slice(0, CLUSTERS);
  Object.assign(process.env, stack.env);
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  const sm = new SecretsManagerClient({});
  const admins = stack.clusters.map((c) => adminApis(stack.kubeconfig, c.context));
  const files = await setup(stack, admins, sm, log);
  return {
    options,
    stack,
    admins,
    sm,
    http: new HttpCounter(new Set(stack.clusters.map((c) => c.server))),
    files,
    settle: async (c) => onUnsettled(await settleCase(admins, c)),
  };
}

async function main(): Promise<void> {
  const { only, ...options } = parseOptions();
  const total = performance.now();
  log(bold('eks-secret-sync benchmark'));
  let t = performance.now();
  let unsettled = 0;
  const ran = SECTIONS.filter((s) => only.has(s.key));
  let bench: Bench;
  if (ran.every((s) => s.stack === false)) {
    log(`\n${bold('[setup]')} in-memory sections only: no stack`);
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    bench = { options } as Bench;
  } else {
    log(`\n${bold('[setup]')} local stack with ${CLUSTERS} clusters`);
    bench = await prepare(options, (n) => {
      unsettled += n;
    });
    log(`  ready (${elapsed(t)})`);
  }

  const results: Record<string, unknown> = {};
  for (const section of ran) {
    t = performance.now();
    log(`\n${bold(`[${section.key}]`)} ${section.title(options)}`);
    results[section.key] = await section.run(bench);
    log(`  (${elapsed(t)})`);
  }

  const { stack } = bench;
  const out = {
    date: new Date().toISOString(),
    node: process.version,
    commit: gitCommit(),
    cpus: availableParallelism(),
    loadAverage: loadavg().map((x) => round(x, 2)),
    stack: stack === undefined ? null : { clusters: stack.clusters.map((c) => c.name), versions: stack.versions ?? {} },
    iterations: {
      rotation: options.iterations,
      fanout: options.fanoutIterations,
      reconcile: options.reconcileIterations,
    },
    /** Consumers still rolling out when a rotation started (settle timed out): their patch may meet a 409. */
    unsettledConsumers: unsettled,
    ...results,
    notes: [
      'EKS DescribeCluster is 0 here by construction: the local clusters are kubeconfig contexts (counted, not assumed).',
      'Kubernetes reads = getSecret + listWorkloads (one per workload kind); writes = create/replace/delete Secret; patches = Secret annotation + pod-template patches.',
      'All API servers, etcd, controller-managers and moto share this machine: parallel fan-out competes for the same CPUs.',
    ],
  };
  for (const section of ran) {
    for (const output of section.tables(results[section.key])) {
      log(typeof output === 'string' ? output : formatTable(output));
    }
  }
  const file = join(import.meta.dirname, 'results', 'latest.json');
  mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  log(`\nmachine: ${out.cpus} CPUs, load average ${out.loadAverage.join(' ')}`);
  if (unsettled > 0) log(`consumers still rolling out when a rotation started: ${unsettled}`);
  log(`results: ${file}\ntotal ${elapsed(total)}`);
}

function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

main()
  .then(() => process.exit(process.exitCode ?? 0))
  .catch((error: unknown) => {
    console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
