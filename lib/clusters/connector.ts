/**
 * The `ClusterConnector` port: configured cluster name -> `KubeApi`, for EKS clusters and kubeconfig contexts.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { SyncError } from '../errors.js';
import type { ClusterConnector } from '../sync/ports.js';
import { createKubeApi } from '../target/client-node-api.js';
import type { KubeApi } from '../target/kube-api.js';
import { createEksAccess, type EksAccess, type EksAccessDeps, type EksClusterRef } from './eks.js';
import { loadKubeConfig } from './kubeconfig.js';
import { PooledKubeConfig } from './pooled-kubeconfig.js';
import type { ClusterSpecs } from './types.js';

export interface ClusterConnectorDeps extends EksAccessDeps {
  /** A ready EKS access layer; otherwise one is built from the other deps. */
  eks?: EksAccess;
  /** Builds the API handle from a cluster's KubeConfig; tests inject a fake to inspect the KubeConfig. */
  createKubeApi?: (cluster: string, kc: KubeConfig) => KubeApi;
  /** Where `~` points in kubeconfig paths; the user's home directory by default. */
  homeDir?: string;
}

/**
 * Creates the connector; build it once per container. API handles are cached per cluster; EKS bearer tokens are
 * fetched per request from a 14-minute cache, so a handle keeps working however long a run holds it.
 */
export function createClusterConnector(specs: ClusterSpecs, deps: ClusterConnectorDeps = {}): ClusterConnector {
  const eks = deps.eks ?? createEksAccess(deps);
  const makeKubeApi = deps.createKubeApi ?? ((cluster: string, kc: KubeConfig) => createKubeApi(cluster, kc));
  const apis = new Map<string, Promise<KubeApi>>();

  async function connectEks(name: string, ref: EksClusterRef): Promise<KubeApi> {
    const { endpoint, caData } = await eks.describe(ref);
    // Fail here, with a clear reason, rather than on the first request.
    await eks.token(ref);
    // Distinct per cluster: client-node caches credentials by user name (kubernetes-client/javascript#592).
    const userName = `${name}/eks-secret-sync`;
    const kc = new PooledKubeConfig();
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
    return makeKubeApi(name, kc);
  }

  async function build(name: string): Promise<KubeApi> {
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (spec === undefined) {
      const known = Object.keys(specs).sort().join(', ') || 'none';
      throw new SyncError('ClusterUnknown', `unknown cluster "${name}" (configured: ${known})`);
    }
    try {
      if ('eks' in spec) return await connectEks(name, spec.eks);
      const kc = loadKubeConfig(spec.kubeconfig, deps.homeDir === undefined ? {} : { homeDir: deps.homeDir });
      return makeKubeApi(name, kc);
    } catch (error) {
      throw unavailable(name, error);
    }
  }

  return {
    connect(name) {
      let pending = apis.get(name);
      if (pending === undefined) {
        pending = build(name);
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

/** Wraps a cluster access failure; the reasons come from our own code and AWS errors, never from Secret data. */
function unavailable(name: string, error: unknown): SyncError {
  if (error instanceof SyncError && error.message.startsWith(`cluster "${name}"`)) return error;
  const reason = error instanceof Error ? error.message : `unexpected ${typeof error}`;
  const retryable = error instanceof SyncError ? error.retryable : false;
  // Keep the original (AWS, fs) error as the cause rather than our intermediate wrapper.
  const cause = error instanceof SyncError && error.cause !== undefined ? error.cause : error;
  return new SyncError('ClusterUnavailable', `cluster "${name}": ${reason}`, { cause, retryable });
}
