/**
 * The composition root: the one place that builds the real adapters (Secrets Manager client and source, EKS access,
 * cluster connector) from a configuration and the engine over them. The entry points (functions/runtime.ts, the
 * CLI, the benchmark) say only what differs: the log sink, the Events' reportingInstance, decorators on the ports.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createConfiguredConnector } from '../clusters/connector.js';
import { createEksAccess, type EksAccess } from '../clusters/eks.js';
import type { Config } from '../config/index.js';
import type { ContinuationQueue } from '../events/index.js';
import { createSqsQueueClient, sqsContinuationQueue } from '../queue/sqs.js';
import { sqsWorkQueue } from '../queue/work-queue.js';
import { createSecretsManagerClient, createSecretsManagerSource } from '../source/secrets-manager.js';
import { type EngineLog, SyncEngine } from '../sync/engine.js';
import type { ClusterConnector } from '../sync/ports/kube.js';
import type { WorkQueue } from '../sync/ports/queue.js';
import type { SecretSource } from '../sync/ports/source.js';

/** The two ports the engine reads and writes through. */
export interface Ports {
  source: SecretSource;
  clusters: ClusterConnector;
}

/** The real adapters, and the Secrets Manager client under the source (for a region check or counters). */
export interface Adapters extends Ports {
  client: SecretsManagerClient;
}

export interface AdapterOptions {
  /** Sees the Secrets Manager client before the source is built over it (the benchmark adds counting middleware). */
  onClient?: (client: SecretsManagerClient) => void;
  /** Wraps the EKS access layer the connector uses (the benchmark counts DescribeCluster and token calls). */
  decorateEks?: (eks: EksAccess) => EksAccess;
}

/** Builds the real adapters with the configuration's `defaults.timeouts`; build them once per container. */
export function createAdapters(config: Config, options: AdapterOptions = {}): Adapters {
  const { timeouts } = config.defaults;
  const client = createSecretsManagerClient(timeouts.aws);
  options.onClient?.(client);
  // Undecorated, the connector builds its own EKS access from the same timeouts.
  const eks = options.decorateEks?.(createEksAccess({ awsTimeouts: timeouts.aws }));
  const clusters = createConfiguredConnector(config.clusters, timeouts, { eks });
  return { client, source: createSecretsManagerSource(client), clusters };
}

/** The continuation queue of waves (README "Waves") at `queueUrl`, with the configuration's AWS request timeout. */
export function createContinuationQueue(config: Config, queueUrl: string, region?: string): ContinuationQueue {
  const { requestMs } = config.defaults.timeouts.aws;
  return sqsContinuationQueue(createSqsQueueClient({ queueUrl, requestMs, ...(region ? { region } : {}) }));
}

export interface EngineWiring {
  config: Config;
  /** The ports; the real adapters (`createAdapters`) when omitted. Unit tests and the model benchmark pass fakes. */
  ports?: Ports;
  /** Wraps the ports before the engine gets them (the CLI's progress lines, the benchmark's counters). */
  decorate?: (ports: Ports) => Ports;
  /** The engine's log sink; silent when omitted. */
  log?: EngineLog;
  /** Names the entry point in the Kubernetes Events the engine records. */
  reportingInstance?: string;
  /** Where passes over `defaults.fanout` go as work items; none: every pass runs inline. */
  work?: WorkQueue;
}

/** The work-item queue of fleet-scale passes (README "Fleet scale: work items") at `queueUrl`, on SQS. */
export function createWorkQueue(config: Config, queueUrl: string, region?: string): WorkQueue {
  const { requestMs } = config.defaults.timeouts.aws;
  return sqsWorkQueue(createSqsQueueClient({ queueUrl, requestMs, ...(region ? { region } : {}) }));
}

/** The engine over `ports` (or the real adapters), decorated as the entry point asks. */
export function createEngine(wiring: EngineWiring): SyncEngine {
  const { source, clusters } = wiring.ports ?? createAdapters(wiring.config);
  const ports = wiring.decorate === undefined ? { source, clusters } : wiring.decorate({ source, clusters });
  return new SyncEngine({
    config: wiring.config,
    ...ports,
    log: wiring.log,
    reportingInstance: wiring.reportingInstance,
    work: wiring.work,
  });
}
