/**
 * The engine as functions/runtime.ts wires it (real adapters), with counting decorators at every port, and one
 * counted pass over it: duration, CPU, open sockets and the calls per port and at the HTTP level.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Config } from '../lib/config/index.js';
import type { SyncRequest } from '../lib/domain/request.js';
import { parseSecretEvent, toSyncRequest } from '../lib/events/index.js';
import type { SyncEngine } from '../lib/sync/engine.js';
import type { SyncReport } from '../lib/sync/types.js';
import { createAdapters, createEngine } from '../lib/wiring/index.js';
import { EksCounter, type HttpCounter, KubeCounter, SecretsManagerCounter } from './counting.js';
import type { Column } from './section.js';
import { labelUpdatedEvent, rotate, type StackEnv } from './stack.js';
import { round } from './stats.js';

export interface Counted {
  engine: SyncEngine;
  sm: SecretsManagerCounter;
  kube: KubeCounter;
  eks: EksCounter;
}

/** The shipped wiring with a counter on the Secrets Manager client, the EKS access and every KubeApi. */
export function countedEngine(config: Config): Counted {
  const sm = new SecretsManagerCounter();
  const kube = new KubeCounter();
  const eks = new EksCounter();
  const adapters = createAdapters(config, {
    onClient: (client) => sm.attach(client),
    decorateEks: (access) => eks.wrap(access),
  });
  const engine = createEngine({
    config,
    ports: adapters,
    decorate: (ports) => ({ ...ports, clusters: kube.wrapConnector(ports.clusters) }),
  });
  return { engine, sm, kube, eks };
}

export interface CallCounts {
  secretsManager: { valueReads: number; total: number; commands: Record<string, number>; httpAttempts: number };
  eks: { describeCluster: number; token: number };
  kube: { reads: number; writes: number; patches: number; total: number; methods: Record<string, number> };
  http: { requests: number; byMethod: Record<string, number>; newConnections: number };
}

/** The Kubernetes and HTTP count columns the calls and reconcile tables share, in one order. */
export function kubeCountColumns<Row extends { counts: CallCounts }>(): Array<Column<Row>> {
  return [
    { header: 'k8s reads', cell: (x) => x.counts.kube.reads },
    { header: 'writes', cell: (x) => x.counts.kube.writes },
    { header: 'patches', cell: (x) => x.counts.kube.patches },
    { header: 'HTTP req', cell: (x) => x.counts.http.requests },
    { header: 'new conns', cell: (x) => x.counts.http.newConnections },
  ];
}

export interface CountedRun {
  report: SyncReport;
  ms: number;
  cpuMs: number;
  /** TCP sockets held by the process right after the pass (idle keep-alive sockets of per-request agents). */
  openSockets: number;
  counts: CallCounts;
}

const openSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

/** One engine pass with every counter reset before and read after. */
export async function counted(c: Counted, http: HttpCounter, request: SyncRequest): Promise<CountedRun> {
  c.sm.reset();
  c.kube.reset();
  c.eks.reset();
  http.start();
  const cpu = process.cpuUsage();
  const start = performance.now();
  const report = await c.engine.run(request);
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  http.stop();
  return {
    report,
    ms,
    cpuMs: round((used.user + used.system) / 1000),
    openSockets: openSockets(),
    counts: {
      secretsManager: {
        valueReads: c.sm.valueReads,
        total: c.sm.total,
        commands: { ...c.sm.commands },
        httpAttempts: c.sm.attempts,
      },
      eks: { describeCluster: c.eks.describe, token: c.eks.token },
      kube: {
        reads: c.kube.reads,
        writes: c.kube.writes,
        patches: c.kube.patches,
        total: c.kube.reads + c.kube.writes + c.kube.patches,
        methods: { ...c.kube.methods },
      },
      http: { requests: http.total, byMethod: { ...http.requests }, newConnections: http.connections },
    },
  };
}

/** Failed sources and bindings of a report, as `id: message` lines. */
export function failures(report: SyncReport): string[] {
  return [
    ...report.sources.filter((s) => s.error).map((s) => `${s.id}: ${s.error?.message}`),
    ...report.results
      .filter((r) => r.action === 'failed')
      .map((r) => `${r.cluster}/${r.namespace}/${r.secret}: ${r.error?.message}`),
  ];
}

/** Rotates `secret` in moto and parses the EventBridge event Secrets Manager would send into a request. */
export async function rotationRequest(stack: StackEnv, sm: SecretsManagerClient, secret: string): Promise<SyncRequest> {
  const { arn, versionId } = await rotate(sm, secret);
  const parsed = parseSecretEvent(labelUpdatedEvent(secret, arn, versionId, stack.env.AWS_REGION ?? 'us-east-1'));
  if (parsed.kind !== 'sync') throw new Error(`bench event not understood: ${parsed.reason}`);
  return toSyncRequest(parsed, { eventId: 'bench' });
}
