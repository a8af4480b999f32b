/**
 * A context of a local kubeconfig file as a client-node `KubeConfig` (local development, non-EKS clusters).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeconfigClusterConfig } from '../config/schema.js';
import type { KubeTimeouts } from '../timeouts.js';
import { PooledKubeConfig } from './pooled-kubeconfig.js';

/** The `kubeconfig` part of a ClusterSpec. */
export type KubeconfigRef = KubeconfigClusterConfig;

/**
 * Loads `path` and selects `context`. Throws a plain Error (naming file and context, never file contents) when
 * the file is unreadable, the context or its cluster/user is missing, or TLS skipping is asked for but not allowed.
 */
export function loadKubeConfig(
  ref: KubeconfigRef,
  opts: { homeDir?: string; timeouts?: Readonly<KubeTimeouts> } = {},
): KubeConfig {
  const file = expandHome(ref.path, opts.homeDir ?? homedir());
  const kc = new PooledKubeConfig(opts.timeouts);
  try {
    // Filter, not throw: a broken entry for some other context must not stop us from using this one.
    kc.loadFromFile(file, { onInvalidEntry: 'filter' });
  } catch (error) {
    // Only the error code: a YAML parser message quotes the file, and kubeconfig files hold credentials.
    const code = (error as { code?: unknown }).code;
    const reason = typeof code === 'string' ? code : 'not a valid kubeconfig';
    throw new Error(`cannot read kubeconfig "${file}": ${reason}`, { cause: error });
  }

  const context = kc.getContextObject(ref.context);
  if (context === null) {
    const available = kc.getContexts().map((c) => c.name);
    throw new Error(
      `kubeconfig "${file}" has no context "${ref.context}" (contexts: ${available.join(', ') || 'none'})`,
    );
  }
  kc.setCurrentContext(ref.context);

  const cluster = kc.getCluster(context.cluster);
  if (cluster === null) {
    throw new Error(`kubeconfig "${file}" context "${ref.context}" refers to missing cluster "${context.cluster}"`);
  }
  // Without this check a missing user would silently mean anonymous requests.
  if (kc.getUser(context.user) === null) {
    throw new Error(`kubeconfig "${file}" context "${ref.context}" refers to missing user "${context.user}"`);
  }

  if (cluster.skipTLSVerify && ref.skipTLSVerify !== true) {
    throw new Error(
      `kubeconfig "${file}" context "${ref.context}" sets insecure-skip-tls-verify; ` +
        'set skipTLSVerify: true for this cluster in the sync configuration to allow it',
    );
  }
  if (ref.skipTLSVerify === true && !cluster.skipTLSVerify) {
    // Cluster entries are read-only objects: swap in a copy.
    kc.loadFromOptions({
      clusters: kc.getClusters().map((c) => (c === cluster ? { ...c, skipTLSVerify: true } : c)),
      contexts: kc.getContexts(),
      users: kc.getUsers(),
      currentContext: ref.context,
    });
  }
  return kc;
}

function expandHome(path: string, home: string): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  return path;
}
