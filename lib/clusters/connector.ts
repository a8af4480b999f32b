/**
 * The `ClusterConnector` port: configured cluster name -> `KubeApi`, for EKS clusters and kubeconfig contexts.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ClusterConnectionError, SyncError } from '../errors.js';
import { createKubeApi } from '../kube/api.js';
import { decorate } from '../sync/calls/decorate.js';
import type { ClusterConnector, KubeApi } from '../sync/ports/kube.js';
import { type AwsTimeouts, DEFAULT_KUBE_TIMEOUTS, type KubeTimeouts } from '../timeouts.js';
import type { EksAccess, EksAccessDeps, EksClusterRef } from './eks.js';
import { loadKubeConfig } from './kubeconfig.js';
import { PooledKubeConfig } from './pooled-kubeconfig.js';
import type { ClusterSpecs } from './types.js';

export interface ClusterConnectorDeps extends EksAccessDeps {
  /** A ready EKS access layer; otherwise one is built from the other deps. */
  eks?: EksAccess;
  /** Builds the API handle from a cluster's KubeConfig; tests inject a fake to inspect the KubeConfig. */
  createKubeApi?: (cluster: string, kc: KubeConfig, timeouts: Readonly<KubeTimeouts>) => KubeApi;
  /** Kubernetes request timeouts of clusters that set none of their own (`defaults.timeouts.kubernetes`). */
  timeouts?: Readonly<KubeTimeouts>;
  /** Where `~` points in kubeconfig paths; the user's home directory by default. */
  homeDir?: string;
}

/** Failures that may mean the cluster moved (recreated: new endpoint, new CA) rather than that it is slow. */
const STALE_ENDPOINT_FAILURES = new Set(['dns', 'connect', 'tls']);

/**
 * Creates the connector; build it once per container. API handles are cached per cluster; EKS bearer tokens are
 * fetched per request from a 14-minute cache, so a handle keeps working however long a run holds it. A DNS,
 * connect or TLS failure drops the cluster's handle and its DescribeCluster result, so the next connect looks the
 * cluster up again (a recreated cluster works again on a warm container).
 */
export function createClusterConnector(specs: ClusterSpecs, deps: ClusterConnectorDeps = {}): ClusterConnector {
  // The EKS and STS clients and the credential providers are loaded with the first `eks` cluster connected: a
  // configuration of kubeconfig clusters never loads them, and the cold start of every entry point is shorter.
  let eks: EksAccess | undefined = deps.eks;
  let loading: Promise<EksAccess> | undefined;
  const eksAccess = (): Promise<EksAccess> => {
    if (eks !== undefined) return Promise.resolve(eks);
    loading ??= import('./eks.js').then(({ createEksAccess }) => {
      eks = createEksAccess(deps);
      return eks;
    });
    // A failed load is not kept: the next connect tries again.
    loading.catch(() => {
      loading = undefined;
    });
    return loading;
  };
  const makeKubeApi =
    deps.createKubeApi ??
    ((cluster: string, kc: KubeConfig, timeouts: Readonly<KubeTimeouts>) => createKubeApi(cluster, kc, { timeouts }));
  const defaultTimeouts = deps.timeouts ?? DEFAULT_KUBE_TIMEOUTS;
  const apis = new Map<string, Promise<KubeApi>>();

  function timeoutsOf(name: string): Readonly<KubeTimeouts> {
    const own = specs[name]?.timeouts ?? {};
    return {
      connectMs: own.connectMs ?? defaultTimeouts.connectMs,
      headersMs: own.headersMs ?? defaultTimeouts.headersMs,
      bodyMs: own.bodyMs ?? defaultTimeouts.bodyMs,
    };
  }

  /** Forgets what we know about reaching `name`, unless a newer handle replaced `api` meanwhile. */
  function forget(name: string, api: Promise<KubeApi>): void {
    if (apis.get(name) !== api) return;
    apis.delete(name);
    const spec = specs[name];
    // Nothing to forget before the EKS access was loaded.
    if (spec !== undefined && 'eks' in spec) eks?.forget(spec.eks);
  }

  async function connectEks(name: string, ref: EksClusterRef): Promise<KubeApi> {
    const eks = await eksAccess();
    const { endpoint, caData } = await eks.describe(ref);
    // Fail here, with a clear reason, rather than on the first request.
    await eks.token(ref);
    // Distinct per cluster: client-node caches credentials by user name
    // (https://github.com/kubernetes-client/javascript/issues/592).
    const userName = `${name}/eks-secret-sync`;
    const timeouts = timeoutsOf(name);
    const kc = new PooledKubeConfig(timeouts);
    kc.loadFromClusterAndUser({ name, server: endpoint, caData, skipTLSVerify: false }, { name: userName });
    kc.addAuthenticator({
      isAuthProvider: (user) => user.name === userName,
      // Asked on every request: tokens last 15 minutes, runs and warm containers last longer.
      applyAuthentication: async (_user, opts) => {
        let token: string;
        try {
          token = (await eks.token(ref)).token;
        } catch (error) {
          throw unavailable(name, error);
        }
        opts.headers = { ...opts.headers, Authorization: `Bearer ${token}` };
      },
    });
    return makeKubeApi(name, kc, timeouts);
  }

  async function build(name: string): Promise<KubeApi> {
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (spec === undefined) {
      const known = Object.keys(specs).sort().join(', ') || 'none';
      throw new SyncError('ClusterUnknown', `unknown cluster "${name}" (configured: ${known})`);
    }
    try {
      if ('eks' in spec) return await connectEks(name, spec.eks);
      const timeouts = timeoutsOf(name);
      const kc = loadKubeConfig(spec.kubeconfig, {
        timeouts,
        ...(deps.homeDir === undefined ? {} : { homeDir: deps.homeDir }),
      });
      return makeKubeApi(name, kc, timeouts);
    } catch (error) {
      throw unavailable(name, error);
    }
  }

  return {
    connect(name) {
      let pending = apis.get(name);
      if (pending === undefined) {
        const built: Promise<KubeApi> = build(name).then((api) =>
          dropOnConnectionFailure(api, (error) => {
            if (STALE_ENDPOINT_FAILURES.has(error.failure)) forget(name, built);
          }),
        );
        pending = built;
        apis.set(name, pending);
        // Failures are not cached: the next pass (or retry) tries again.
        pending.catch(() => {
          if (apis.get(name) === pending) apis.delete(name);
        });
      }
      return pending;
    },
  };
}

/**
 * The connector every entry point uses: the configured clusters with the configuration's `defaults.timeouts`
 * (Kubernetes requests of clusters that set none of their own; EKS and STS requests).
 */
export function createConfiguredConnector(
  specs: ClusterSpecs,
  timeouts: { kubernetes: Readonly<KubeTimeouts>; aws: Readonly<AwsTimeouts> },
  deps: ClusterConnectorDeps = {},
): ClusterConnector {
  return createClusterConnector(specs, { timeouts: timeouts.kubernetes, awsTimeouts: timeouts.aws, ...deps });
}

/** The same API, calling `onFailure` for each request that got no HTTP answer (errors pass through unchanged). */
function dropOnConnectionFailure(api: KubeApi, onFailure: (error: ClusterConnectionError) => void): KubeApi {
  return decorate(api, async (_call, next) => {
    try {
      return await next();
    } catch (error) {
      if (error instanceof ClusterConnectionError) onFailure(error);
      throw error;
    }
  });
}

/** Wraps a cluster access failure; the reasons come from our own code and AWS errors, never from Secret data. */
function unavailable(name: string, error: unknown): SyncError {
  if (error instanceof SyncError && error.message.startsWith(`cluster "${name}"`)) return error;
  const reason = error instanceof Error ? error.message : `unexpected ${typeof error}`;
  const retryable = error instanceof SyncError ? error.retryable : false;
  // Keep the original (AWS, fs) error as the cause rather than our intermediate wrapper.
  const cause = error instanceof SyncError && error.cause !== undefined ? error.cause : error;
  return new SyncError('ClusterUnavailable', `cluster "${name}": ${reason}`, { cause, retryable });
}
