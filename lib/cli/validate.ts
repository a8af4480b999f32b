/** `validate`: the configuration file, plus what only the local machine can check (kubeconfig contexts). */
import { loadKubeConfig } from '../clusters/kubeconfig.js';
import type { Config } from '../config/index.js';

/** Problems with the kubeconfig clusters, each naming its place in the configuration. No network access. */
export function checkKubeconfigs(clusters: Config['clusters'], opts: { homeDir?: string } = {}): string[] {
  const issues: string[] = [];
  for (const [name, spec] of Object.entries(clusters)) {
    if (!('kubeconfig' in spec)) continue;
    try {
      loadKubeConfig(spec.kubeconfig, opts);
    } catch (error) {
      issues.push(`clusters.${name}.kubeconfig: ${error instanceof Error ? error.message : 'invalid'}`);
    }
  }
  return issues;
}

/** One line describing a valid configuration. */
export function describeConfig(config: Config): string {
  const clusters = Object.values(config.clusters);
  const eks = clusters.filter((c) => 'eks' in c).length;
  const targets = config.syncs.reduce((n, s) => n + s.targets.length, 0);
  const selectors = config.syncs.filter((s) => !('secret' in s.source)).length;
  return (
    `${clusters.length} clusters (${eks} EKS, ${clusters.length - eks} kubeconfig), ` +
    `${config.syncs.length} syncs (${selectors} selectors), ${targets} targets`
  );
}
