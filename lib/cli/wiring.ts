/**
 * The CLI's engine: the same SyncEngine, Secrets Manager source and cluster connector as the Lambda runtime, with
 * the user's AWS credentials and kubeconfig files, and progress on stderr instead of Powertools logs and metrics.
 */
import type { Config } from '../config/index.js';
import type { EngineLog, SyncEngine } from '../sync/engine.js';
import type { ClusterConnector } from '../sync/ports/kube.js';
import type { SecretFilter, SecretSource } from '../sync/ports/source.js';
import { createAdapters, createEngine } from '../wiring/index.js';
import { UsageError } from './args.js';

export type Progress = (line: string) => void;

function describeFilter(filter: SecretFilter): string {
  const parts = [
    ...(filter.namePrefix === undefined ? [] : [`name prefix "${filter.namePrefix}"`]),
    ...Object.entries(filter.tags ?? {}).map(([k, v]) => `tag ${k}=${v}`),
  ];
  return parts.join(', ');
}

/** Reports each slow step (listing, batched reads, cluster connections) as it starts. */
export function withProgress(
  source: SecretSource,
  clusters: ClusterConnector,
  progress: Progress,
): { source: SecretSource; clusters: ClusterConnector } {
  return {
    source: {
      read: (ids) => {
        progress(
          ids.length === 1
            ? `reading secret "${ids[0]}" from Secrets Manager...`
            : `reading ${ids.length} secrets from Secrets Manager...`,
        );
        return source.read(ids);
      },
      list: (filter) => {
        progress(`listing secrets with ${describeFilter(filter)}...`);
        return source.list(filter);
      },
      readVersion: (id, versionId) => source.readVersion(id, versionId),
      describe: (id) => source.describe(id),
      currentVersionId: (id) => source.currentVersionId(id),
      describeVersions: (id) => source.describeVersions(id),
    },
    clusters: {
      connect: (name) => {
        progress(`cluster "${name}": connecting...`);
        return clusters.connect(name);
      },
    },
  };
}

/** Builds the engine over the user's AWS configuration; fails early when no AWS region is configured. */
export async function createCliEngine(
  config: Config,
  progress: Progress,
): Promise<Pick<SyncEngine, 'run' | 'status' | 'release'>> {
  const adapters = createAdapters(config);
  try {
    await adapters.client.config.region();
  } catch {
    throw new UsageError('no AWS region configured: set AWS_REGION, or a region in your AWS profile');
  }
  return createEngine({
    config,
    ports: adapters,
    decorate: ({ source, clusters }) => withProgress(source, clusters, progress),
    reportingInstance: 'eks-secret-sync-cli',
    log: cliLog(progress),
  });
}

/** An attribute value as a person reads it: strings quoted, `{ code, message }` errors as `code: message`. */
function humanValue(value: unknown): string {
  if (typeof value === 'string') return `"${value}"`;
  if (Array.isArray(value)) return value.map(humanValue).join(', ');
  if (typeof value === 'object' && value !== null) {
    const { code, message } = value as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && typeof message === 'string') return `${code}: ${message}`;
    return Object.entries(value)
      .map(([k, v]) => `${k} ${humanValue(v)}`)
      .join(', ');
  }
  return String(value);
}

/** `message: key value, key value`; the engine's attributes are ids, names, hashes and counts only. */
function humanLine(message: string, attributes?: Record<string, unknown>): string {
  if (attributes === undefined || Object.keys(attributes).length === 0) return message;
  return `${message}: ${humanValue(attributes)}`;
}

/**
 * The engine's log as short human lines on the progress stream (never JSON): the plan, warnings, each binding as
 * it finishes (so a slow cluster does not hide what the others did) and `3/5 clusters done` as clusters finish.
 */
export function cliLog(progress: Progress): EngineLog {
  return {
    info: (message, attributes) => {
      if (message === 'planned' && attributes !== undefined) {
        const { bindings, clusters, secrets } = attributes;
        progress(`planned ${bindings} binding(s): ${secrets} secret(s) into ${clusters} cluster(s)`);
      } else {
        progress(humanLine(message, attributes));
      }
    },
    warn: (message, attributes) => progress(`warning: ${humanLine(message, attributes)}`),
    result: (r) =>
      progress(
        `${r.cluster}/${r.namespace}/${r.secret}: ${r.action}${r.error === undefined ? '' : ` (${r.error.code})`}`,
      ),
    clusterDone: ({ cluster, done, total, bindings, failed }) =>
      progress(
        `${done}/${total} clusters done (${cluster}${failed === 0 ? '' : `: ${failed} of ${bindings} binding(s) failed`})`,
      ),
  };
}
