/**
 * Shared pieces of the reliability suite: loading the real handlers with a configuration, building the engine with
 * real adapters behind counting decorators, and the leak guard every file scans its output with.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, vi } from 'vitest';
import { createConfiguredConnector } from '../../../lib/clusters/connector.js';
import type { EksAccessDeps } from '../../../lib/clusters/eks.js';
import { type Config, parseConfig } from '../../../lib/config/index.js';
import { createSecretsManagerClient, createSecretsManagerSource } from '../../../lib/source/secrets-manager.js';
import { callNamespace, decorate } from '../../../lib/sync/calls/decorate.js';
import { type EngineLog, SyncEngine } from '../../../lib/sync/engine.js';
import type { ClusterConnector, KubeApi } from '../../../lib/sync/ports/kube.js';
import type { AwsTimeouts } from '../../../lib/timeouts.js';
import { labelUpdatedEvent } from '../../../scripts/label-event.js';
import { lambdaContext, recordOutput } from '../../support/lambda.js';
import { adminApis, freshNamespace, secretsManager, stack } from '../../support/stack.js';
import { deployment } from '../../support/workloads.js';

// The reliability files' one import surface: this module's helpers and the stack harness, as `helpers.*`.
export * from '../../support/stack.js';

export type Handler = (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<unknown>;
export type FunctionName = 'on-rotation' | 'backfill' | 'reconcile';

/** Writes `text` to a fresh temporary file and returns its path. */
export function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'eks-sync-rel-')), name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

/**
 * Loads a fresh copy of a real entry point with `config` as its configuration file (its module scope builds the
 * runtime, as a cold start does). `env` is applied for the import only (e.g. a Secrets Manager endpoint).
 */
export async function loadFunction(
  name: FunctionName,
  config: string,
  env: Record<string, string> = {},
): Promise<Handler> {
  stack();
  const saved: Record<string, string | undefined> = {};
  for (const key of Object.keys(env)) saved[key] = process.env[key];
  // `env` may override EKS_SYNC_CONFIG (e.g. a missing file).
  Object.assign(process.env, { EKS_SYNC_CONFIG: tempFile('eks-secret-sync.yaml', config) }, env);
  vi.resetModules();
  try {
    const module: { handler: unknown } =
      name === 'on-rotation'
        ? await import('../../../functions/on-rotation.js')
        : name === 'backfill'
          ? await import('../../../functions/backfill.js')
          : await import('../../../functions/reconcile.js');
    return module.handler as Handler;
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

/** Invokes a handler; resolves to its result or to the error it threw. */
export async function invoke(
  handler: Handler,
  event: unknown,
  fn = 'fn',
): Promise<{ result?: unknown; error?: Error & { code?: string; report?: Report } }> {
  try {
    return { result: await handler(event, lambdaContext(fn)) };
  } catch (error) {
    return { error: error as Error & { code?: string; report?: Report } };
  }
}

/** The parts of a SyncReport the tests read. */
export interface Report {
  results: Array<{
    cluster: string;
    namespace: string;
    secret: string;
    action: string;
    hash?: string;
    drift?: boolean;
    restarted: Array<{ kind: string; name: string }>;
    error?: { code: string; message: string };
    notes?: string[];
  }>;
  sources: Array<{ id: string; versionId?: string; error?: { code: string; message: string } }>;
  summary: Record<string, number>;
  notes: string[];
}

/** A `Secret Label Updated` event for AWSCURRENT, as EventBridge delivers it. */
export function labelEvent(secret: { name: string; arn: string }, versionId: string, id = crypto.randomUUID()) {
  return labelUpdatedEvent(secret, versionId, { id });
}

export interface SeededSecret {
  name: string;
  arn: string;
  versionId: string;
}

/** Creates a secret in the emulator; `value` objects are stored as JSON. */
export async function createSecret(name: string, value: unknown): Promise<SeededSecret> {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const out = await secretsManager().send(new CreateSecretCommand({ Name: name, SecretString: text }));
  return { name, arn: out.ARN as string, versionId: out.VersionId as string };
}

/** Puts a new AWSCURRENT version; returns its versionId. */
export async function putSecret(id: string, value: unknown): Promise<string> {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const out = await secretsManager().send(new PutSecretValueCommand({ SecretId: id, SecretString: text }));
  return out.VersionId as string;
}

/** The kubeconfig cluster entries of the sync identity, one line per configured cluster name. */
export function kubeconfigClusters(clusters: readonly string[], path?: string): string {
  const file = path ?? stack().syncKubeconfig;
  return clusters.map((c) => `  ${c}: { kubeconfig: { path: ${file}, context: ${c} } }`).join('\n');
}

/** Everything an error says, along its `cause` chain (names, codes and messages). */
export function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    if (current instanceof Error) {
      parts.push(`${current.name}: ${current.message}`);
      const code = (current as { code?: unknown }).code;
      if (code !== undefined) parts.push(String(code));
      const body = (current as { body?: unknown }).body;
      if (body !== undefined) parts.push(typeof body === 'string' ? body : safeJson(body));
      current = current.cause;
    } else {
      parts.push(typeof current === 'string' ? current : safeJson(current));
      break;
    }
  }
  return parts.join(' <- ');
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * The leak guard of one test file: seeded values are registered, everything the code under test produced
 * (reports, errors, captured output) is collected, and `hits()` lists any value found, in clear or in base64.
 * Hits name the seed's label, never the value.
 */
export class LeakGuard {
  private readonly seeds = new Map<string, string>();
  private readonly collected: string[] = [];

  /** Registers a secret value (and, for objects, each string leaf and the JSON text). */
  seed(label: string, value: unknown): void {
    if (typeof value === 'string') {
      if (value.length >= 8) this.seeds.set(value, label);
      return;
    }
    if (value !== null && typeof value === 'object') {
      this.seeds.set(JSON.stringify(value), `${label} (JSON)`);
      for (const [key, leaf] of Object.entries(value)) this.seed(`${label}.${key}`, leaf);
    }
  }

  /** Keeps a report, result or error for the final scan. */
  collect(thing: unknown): void {
    this.collected.push(thing instanceof Error ? errorText(thing) : safeJson(thing));
    const report = (thing as { report?: unknown } | null)?.report;
    if (report !== undefined) this.collected.push(safeJson(report));
  }

  get collectedCount(): number {
    return this.collected.length;
  }

  get seedCount(): number {
    return this.seeds.size;
  }

  /** Labels of the seeds found in `output` or in anything collected. */
  hits(output: string): string[] {
    const haystack = [output, ...this.collected].join('\n');
    const found: string[] = [];
    for (const [value, label] of this.seeds) {
      const b64 = Buffer.from(value, 'utf8').toString('base64');
      if (haystack.includes(value)) found.push(label);
      else if (haystack.includes(b64)) found.push(`${label} (base64)`);
    }
    return found;
  }
}

/**
 * The start every reliability file shares: everything written to stdout/stderr is recorded from here on (until
 * the file's last hook has run), a leak guard to scan it with, and a run id that keeps this run's names unique.
 */
export function reliabilityRun(): {
  output: ReturnType<typeof recordOutput>;
  guard: LeakGuard;
  run: string;
  /** A fresh value that is clearly ours (`<label>-<run>-<random>`), registered with the leak guard. */
  value: (label: string) => { username: string; password: string };
} {
  const output = recordOutput();
  // Registered first, so it runs after the file's own afterAll hooks (vitest runs them in reverse order).
  afterAll(() => output.stop());
  const guard = new LeakGuard();
  const run = Date.now().toString(36);
  const value = (label: string) => {
    const v = { username: 'app', password: `${label}-${run}-${crypto.randomUUID().slice(0, 8)}` };
    guard.seed(label, v);
    return v;
  };
  return { output, guard, run, value };
}

/** Counts KubeApi calls in flight per cluster (the maximum is the bound under test) and records namespaces. */
export class KubeCallMeter {
  readonly current = new Map<string, number>();
  readonly max = new Map<string, number>();
  readonly calls = new Map<string, number>();
  /** Total milliseconds spent per `cluster:method`. */
  readonly millis = new Map<string, number>();
  /** `cluster/namespace` of every call. */
  readonly namespaces = new Set<string>();

  wrap(api: KubeApi): KubeApi {
    const cluster = api.cluster;
    return decorate(api, async (context, next) => {
      this.namespaces.add(`${cluster}/${callNamespace(context)}`);
      const key = `${cluster}:${context.call}`;
      this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
      const now = (this.current.get(cluster) ?? 0) + 1;
      this.current.set(cluster, now);
      this.max.set(cluster, Math.max(this.max.get(cluster) ?? 0, now));
      const started = performance.now();
      try {
        return await next();
      } finally {
        this.current.set(cluster, (this.current.get(cluster) ?? 1) - 1);
        this.millis.set(key, (this.millis.get(key) ?? 0) + performance.now() - started);
      }
    });
  }

  count(cluster: string, method: string): number {
    return this.calls.get(`${cluster}:${method}`) ?? 0;
  }

  maxInFlight(cluster: string): number {
    return this.max.get(cluster) ?? 0;
  }
}

/** A connector whose API handles go through `meter` (one meter per pass gives per-pass bounds). */
export function meteredConnector(inner: ClusterConnector, meter: KubeCallMeter): ClusterConnector {
  return { connect: async (cluster) => meter.wrap(await inner.connect(cluster)) };
}

/**
 * Secrets Manager client built the way the runtime builds it (endpoint and credentials from the environment, the
 * request timeouts given or the defaults).
 */
export function runtimeSecretsManager(endpoint?: string, timeouts?: Readonly<AwsTimeouts>): SecretsManagerClient {
  stack();
  return createSecretsManagerClient(timeouts, endpoint === undefined ? {} : { endpoint });
}

/** The engine with real adapters; `connector` may wrap the real cluster connector. */
export function realEngine(
  configText: string,
  opts: {
    wrap?: (inner: ClusterConnector) => ClusterConnector;
    log?: EngineLog;
    smEndpoint?: string;
  } = {},
): { engine: SyncEngine; config: Config; connector: ClusterConnector } {
  const config = parseConfig(configText);
  const inner = createConfiguredConnector(config.clusters, config.defaults.timeouts);
  const connector = opts.wrap === undefined ? inner : opts.wrap(inner);
  const engine = new SyncEngine({
    config,
    source: createSecretsManagerSource(runtimeSecretsManager(opts.smEndpoint, config.defaults.timeouts.aws)),
    clusters: connector,
    ...(opts.log === undefined ? {} : { log: opts.log }),
  });
  return { engine, config, connector };
}

/** An EngineLog that keeps every line as JSON (for the leak scan). */
export function collectingLog(into: string[]): EngineLog {
  return {
    info: (message, attributes) => into.push(safeJson({ level: 'info', message, ...attributes })),
    warn: (message, attributes) => into.push(safeJson({ level: 'warn', message, ...attributes })),
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `count` fresh namespaces (named from `prefix`) on every one of `clusters`, each holding Deployment `web` that
 * consumes Secret `secretName` through envFrom: the fleet a pass restarts.
 */
export async function namespacesWithWeb(
  clusters: readonly string[],
  count: number,
  prefix: string,
  secretName: string,
): Promise<string[]> {
  const namespaces: string[] = [];
  for (let i = 0; i < count; i++) namespaces.push((await freshNamespace(clusters, { prefix })).name);
  for (const cluster of clusters) {
    for (const namespace of namespaces) {
      await adminApis(cluster).apps.createNamespacedDeployment({
        namespace,
        body: deployment('web', secretName, 'envFrom'),
      });
    }
  }
  return namespaces;
}

/**
 * The EKS path without AWS: static credentials (`accessKeyId`, no real key) and a DescribeCluster that answers
 * ACTIVE with `endpoint` and the base64 CA `caData`, so a connector for an `eks:` cluster reaches a stack API server.
 */
export function describedEksCluster(
  accessKeyId: string,
  endpoint: string | undefined,
  caData: string,
): Pick<EksAccessDeps, 'credentials' | 'eksClient'> {
  return {
    credentials: async () => ({ accessKeyId, secretAccessKey: 'not-a-real-key' }),
    eksClient: () => ({
      send: async () => ({ cluster: { status: 'ACTIVE', endpoint, certificateAuthority: { data: caData } } }),
    }),
  };
}
