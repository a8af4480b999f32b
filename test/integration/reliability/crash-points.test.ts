/**
 * Crash points on the real stack: a rotation pass of the real onRotation handler runs in a child process whose two
 * clusters are reached through an HTTPS proxy that numbers every Kubernetes request. One uninterrupted pass gives N
 * requests; then for each k in 1..N a fresh rotation is delivered to a fresh child, which is SIGKILLed when request
 * k arrives (before it is forwarded; and, for every write, after the API server answered it, so the write happened
 * and the answer is lost). The same event is then redelivered to a handler that runs to completion. Every run must
 * end with the new value in every cluster and namespace, no restart marker left, and each consumer restarted
 * exactly once for that value: counted from the cluster (the Deployment's `metadata.generation`, which only a
 * pod-template change moves here, and the fingerprint on its pod template), not from any report.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { V1Deployment } from '@kubernetes/client-node';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  consumerHashAnnotation,
  contentHash,
  fingerprint,
  RESTART_PENDING_ANNOTATION,
  VERSION_ANNOTATION,
} from '../../../lib/domain/names.js';
import { slimDependencies } from '../../../scripts/bundle/slim.mjs';
import { type KubeRequestProxy, type ProxiedRequest, startKubeRequestProxy } from '../../support/request-proxy.js';
import { deployment } from '../../support/workloads.js';
import * as helpers from './helpers.js';

const { output, guard, run, value: newValue } = helpers.reliabilityRun();
/** Everything the children wrote (their log lines, metrics and our markers), for the leak scan. */
const childText: string[] = [];
const k8sName = 'crash-db';
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
/** The child's entry point, bundled in beforeAll as Lambda runs the handler (tsx would take seconds to start it). */
let childBundle: string;

let clusters: string[];
let namespaces: string[];
let proxy: KubeRequestProxy;
let childEnv: NodeJS.ProcessEnv;
let redeliver: helpers.Handler;
let secret: helpers.SeededSecret;
/** The requests of one uninterrupted pass, as counted by the first test. */
let baseline: ProxiedRequest[] = [];

type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** One cold-started handler in a child process; it handles one event, or dies by SIGKILL on our request. */
class HandlerChild {
  readonly ready: Promise<void>;
  readonly exited: Promise<Exit>;
  private readonly process: ChildProcessByStdio<Writable, Readable, Readable>;
  private stdout = '';

  constructor() {
    this.process = spawn(process.execPath, [childBundle], {
      cwd: repoRoot,
      env: childEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => this.process.on('exit', (code, signal) => resolve({ code, signal })));
    this.ready = new Promise((resolve, reject) => {
      this.process.stdout.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        childText.push(text);
        this.stdout += text;
        if (this.stdout.includes('CHILD ready\n')) resolve();
      });
      void this.exited.then((exit) => reject(new Error(`handler child exited before it was ready: ${exit.code}`)));
    });
    this.ready.catch(() => undefined);
    this.process.stderr.on('data', (chunk: Buffer) => childText.push(chunk.toString('utf8')));
  }

  send(event: unknown): void {
    this.process.stdin.write(`${JSON.stringify(event)}\n`);
  }

  kill(): void {
    this.process.kill('SIGKILL');
  }

  /** What the child said about the pass: `done`, `failed <code>`, or nothing when it was killed. */
  get outcome(): string {
    return /CHILD (done|failed.*)\n/.exec(this.stdout)?.[1] ?? 'none';
  }
}

/** Children start one run ahead, so that a run does not wait for a cold start. */
let spare: HandlerChild | undefined;
function takeChild(): HandlerChild {
  const child = spare ?? new HandlerChild();
  spare = new HandlerChild();
  return child;
}

const forwardAll = () => ({ action: 'forward' as const });

/** `#7 stack-1 PATCH .../ns2/deployments/web`: the request, with the namespaces named by their index. */
function describeRequest(request: ProxiedRequest): string {
  let path = request.path;
  namespaces.forEach((ns, i) => {
    path = path.replaceAll(`/namespaces/${ns}/`, `/namespaces/ns${i + 1}/`);
  });
  return `#${request.seq} ${request.cluster} ${request.method} ${path}`;
}

/** `PUT secrets`, `GET deployments`, `PATCH deployments`: what a request does, whatever the cluster and namespace. */
function callKind(request: ProxiedRequest): string {
  const resource = request.path.replace(/^\/apis?\/(apps\/)?v1\/namespaces\/[^/]+\//, '').split('/')[0];
  return `${request.method} ${resource}`;
}

/** Generation of every Deployment per cluster/namespace: one more per pod-template change (restart). */
async function generations(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await Promise.all(
    clusters.flatMap((cluster) =>
      namespaces.map(async (namespace) => {
        const { items } = await helpers.adminApis(cluster).apps.listNamespacedDeployment({ namespace });
        for (const d of items) out.set(`${cluster}/${namespace}/${d.metadata?.name}`, d.metadata?.generation ?? 0);
      }),
    ),
  );
  return out;
}

/**
 * What the clusters say after a run, as a list of problems (empty when converged): the Secret holds `value` at
 * `versionId` without a restart marker, each consumer moved exactly one generation and carries the fingerprint of
 * that Secret's content, and the workload that does not consume it did not move.
 */
async function problemsAfter(
  before: Map<string, number>,
  value: { password: string },
  versionId: string,
): Promise<string[]> {
  const problems: string[] = [];
  const after = await generations();
  for (const cluster of clusters) {
    for (const [i, namespace] of namespaces.entries()) {
      const where = `${cluster}/ns${i + 1}`;
      const { core, apps } = helpers.adminApis(cluster);
      const secretNow = await core.readNamespacedSecret({ namespace, name: k8sName });
      const annotations = secretNow.metadata?.annotations ?? {};
      if (helpers.decode(secretNow, 'password') !== value.password)
        problems.push(`${where}: Secret does not hold the value`);
      if (annotations[VERSION_ANNOTATION] !== versionId) problems.push(`${where}: Secret not at the version`);
      if (annotations[RESTART_PENDING_ANNOTATION] !== undefined) problems.push(`${where}: restart marker left`);
      const web = `${cluster}/${namespace}/web`;
      const moved = (after.get(web) ?? 0) - (before.get(web) ?? 0);
      if (moved !== 1) problems.push(`${where}: web restarted ${moved} times`);
      const consumer: V1Deployment = await apps.readNamespacedDeployment({ namespace, name: 'web' });
      const expected = fingerprint(
        secretNow.metadata?.uid ?? '',
        contentHash(secretNow.type ?? 'Opaque', secretNow.data ?? {}),
      );
      const carried = consumer.spec?.template.metadata?.annotations?.[consumerHashAnnotation(k8sName)];
      if (carried !== expected) problems.push(`${where}: web's pod template does not carry the current fingerprint`);
      const other = `${cluster}/${namespace}/other`;
      if (after.has(other) && after.get(other) !== before.get(other)) problems.push(`${where}: other was restarted`);
    }
  }
  return problems;
}

/** Delivers `event` to a fresh child and lets the proxy decide each request; resolves when the child is gone. */
async function passInChild(
  event: unknown,
  decider: (child: HandlerChild) => KubeRequestProxy['decide'],
): Promise<{ child: HandlerChild; exit: Exit }> {
  const child = takeChild();
  await child.ready;
  proxy.reset();
  proxy.decide = decider(child);
  child.send(event);
  const exit = await child.exited;
  // The kernel closes a dead process's sockets; this also ends requests still held for it.
  proxy.dropClients();
  proxy.decide = forwardAll;
  return { child, exit };
}

/** A crash point: the `occurrence`-th request of one kind in a pass (e.g. the 3rd `PATCH deployments`). */
interface CrashPoint {
  kind: string;
  occurrence: number;
}

/** Every request of the uninterrupted pass as a crash point; interleaving may differ between runs, kinds do not. */
function crashPoints(requests: readonly ProxiedRequest[]): CrashPoint[] {
  const seen = new Map<string, number>();
  return requests.map((request) => {
    const kind = callKind(request);
    const occurrence = (seen.get(kind) ?? 0) + 1;
    seen.set(kind, occurrence);
    return { kind, occurrence };
  });
}

function describePoint(point: CrashPoint, killed: ProxiedRequest | undefined): string {
  return `${point.kind} #${point.occurrence}${killed === undefined ? '' : ` (${describeRequest(killed)})`}`;
}

/** A crash run at each of `points`, in order; one line for each that did not converge (empty when all did). */
async function unconverged(points: readonly CrashPoint[], when: 'before' | 'after'): Promise<string[]> {
  const failures: string[] = [];
  for (const point of points) {
    const { killed, problems } = await crashRun(point, when);
    if (problems.length > 0) failures.push(`killed ${when} ${describePoint(point, killed)}: ${problems.join('; ')}`);
  }
  return failures;
}

/**
 * One crash-point run: fresh rotation, a child killed at the crash point, before the request is forwarded
 * (`before`) or once the API server has answered it (`after`: the write happened, the pass never learns it), then
 * the same event redelivered. Returns the request killed at and the problems found (none when converged).
 */
async function crashRun(
  point: CrashPoint,
  when: 'before' | 'after',
): Promise<{ killed?: ProxiedRequest; problems: string[] }> {
  const before = await generations();
  const value = newValue(`crash-${when}-${point.kind}-${point.occurrence}`);
  const versionId = await helpers.putSecret(secret.name, value);
  const event = helpers.labelEvent(secret, versionId);

  let killedAt: ProxiedRequest | undefined;
  let seen = 0;
  const { exit, child } = await passInChild(event, (target) => (request) => {
    if (killedAt !== undefined) return { action: 'hold' };
    if (callKind(request) !== point.kind || ++seen !== point.occurrence) return { action: 'forward' };
    killedAt = request;
    if (when === 'after') return { action: 'forward-then-hold', answered: () => target.kill() };
    target.kill();
    return { action: 'hold' };
  });
  if (killedAt === undefined || exit.signal !== 'SIGKILL') {
    return {
      problems: [`the pass made ${proxy.requests.length} requests and ended (${child.outcome}) before the crash point`],
    };
  }
  const killed = killedAt;

  const redelivered = await helpers.invoke(redeliver, event, 'onRotation');
  guard.collect(redelivered.result ?? null);
  if (redelivered.error !== undefined) guard.collect(redelivered.error);
  const problems = await problemsAfter(before, value, versionId);
  if (redelivered.error !== undefined) problems.unshift(`redelivery failed: ${redelivered.error.message}`);
  if (problems.length > 0) {
    const report = (redelivered.result ?? redelivered.error?.report) as helpers.Report | undefined;
    const actions = report?.results.map(
      (r) =>
        `${r.cluster}/ns${namespaces.indexOf(r.namespace) + 1} ${r.action}, restarted [${r.restarted.map((w) => w.name).join(',')}]`,
    );
    problems.push(`redelivery reported: ${actions?.join('; ') ?? 'nothing'}`);
  }
  return { killed, problems };
}

beforeAll(async () => {
  const info = helpers.stack();
  clusters = info.clusters.slice(0, 2);
  namespaces = await helpers.namespacesWithWeb(clusters, 2, 'rel-crash', k8sName);
  for (const cluster of clusters) {
    await helpers.adminApis(cluster).apps.createNamespacedDeployment({
      namespace: namespaces[0] as string,
      body: deployment('other', 'not-ours', 'envFrom'),
    });
  }

  // The stack's serving certificate is valid for 127.0.0.1: the children verify the proxy against the stack CA.
  const pki = join(info.stackDir, 'pki');
  proxy = await startKubeRequestProxy({
    targets: Object.fromEntries(clusters.map((c) => [c, info.servers[c] as string])),
    cert: readFileSync(join(pki, 'serving.crt'), 'utf8'),
    key: readFileSync(join(pki, 'serving.key'), 'utf8'),
    ca: readFileSync(info.caFile, 'utf8'),
  });
  const kubeconfig = parse(readFileSync(helpers.syncKubeConfigPath(), 'utf8')) as {
    clusters: Array<{ name: string; cluster: { server: string } }>;
  };
  for (const entry of kubeconfig.clusters) {
    if (clusters.includes(entry.name)) entry.cluster.server = proxy.urlOf(entry.name);
  }
  const proxied = helpers.tempFile('proxied.kubeconfig', stringify(kubeconfig));

  secret = await helpers.createSecret(`rel/crash-${run}`, newValue('crash-v1'));
  const syncs = `syncs:
  - source: { secret: ${secret.name} }
    targets:
      - { clusters: [${clusters.join(', ')}], namespaces: [${namespaces.join(', ')}], secret: ${k8sName} }
`;
  // The child does not watch rollouts: how many status reads that takes depends on how fast KWOK's pods turn Ready,
  // so the crash points (the n-th request of a kind) would not line up between runs. Those reads write nothing.
  const childConfig = `defaults:
  rollout: { waitMs: 0 }
clusters:
${helpers.kubeconfigClusters(clusters, proxied)}
${syncs}`;
  childEnv = { ...process.env, ...info.env, EKS_SYNC_CONFIG: helpers.tempFile('eks-secret-sync.yaml', childConfig) };
  childBundle = join(mkdtempSync(join(tmpdir(), 'eks-sync-crash-')), 'handler-child.mjs');
  await build({
    entryPoints: [join(repoRoot, 'test/support/handler-child.ts')],
    outfile: childBundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    logLevel: 'warning',
    // What scripts/build.mjs leaves out of the Lambda bundles stays out here too: the child runs what Lambda runs.
    ...slimDependencies,
    // Bundled CommonJS dependencies still call require(), which an ESM bundle lacks (as in scripts/build.mjs).
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
  spare = new HandlerChild();

  // The redelivery goes straight to the API servers, through a handler that stays warm (another container).
  redeliver = await helpers.loadFunction('on-rotation', `clusters:\n${helpers.kubeconfigClusters(clusters)}\n${syncs}`);
  // The first sync creates the Secrets and gives each consumer its annotation (one restart).
  const first = await helpers.invoke(redeliver, helpers.labelEvent(secret, secret.versionId), 'onRotation');
  guard.collect(first.result ?? null);
  expect(first.error).toBeUndefined();
});

afterAll(async () => {
  spare?.kill();
  // The bundle is about 10 MB; the other temporary files are small and kept for inspection, as elsewhere.
  if (childBundle !== undefined) rmSync(dirname(childBundle), { recursive: true, force: true });
  await proxy?.close();
});

describe('a rotation pass killed at each of its Kubernetes calls, then redelivered', () => {
  it('counts the Kubernetes calls of one uninterrupted pass in a child process', async () => {
    const before = await generations();
    const value = newValue('crash-count');
    const versionId = await helpers.putSecret(secret.name, value);

    const { child, exit } = await passInChild(helpers.labelEvent(secret, versionId), () => forwardAll);

    expect(child.outcome).toBe('done');
    expect(exit.code).toBe(0);
    baseline = [...proxy.requests];
    const methods = new Set(baseline.map((r) => r.method));
    // Per binding: read the Secret, write it, list the three workload kinds, patch web, clear the marker; and the
    // Events (POST), which are best effort: a crash around one must not matter either.
    expect([...methods].sort()).toEqual(['GET', 'PATCH', 'POST', 'PUT']);
    expect(await problemsAfter(before, value, versionId)).toEqual([]);
  });

  it('converges when killed before each call is forwarded', { timeout: 240_000 }, async () => {
    const points = crashPoints(baseline);
    expect(points.length).toBeGreaterThan(0);
    expect(await unconverged(points, 'before')).toEqual([]);
  });

  it('converges when killed after each write was answered, before the answer reached the pass', {
    timeout: 240_000,
  }, async () => {
    const points = crashPoints(baseline).filter((p) => !p.kind.startsWith('GET '));
    expect(points.length).toBeGreaterThan(0);
    expect(await unconverged(points, 'after')).toEqual([]);
  });
});

describe('leakage', () => {
  it('no seeded value appears in the children output, the redeliveries or anything logged', () => {
    expect(childText.length).toBeGreaterThan(0);
    expect(guard.hits(`${output.text()}\n${childText.join('')}`)).toEqual([]);
  });
});
