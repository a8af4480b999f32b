/**
 * vitest global setup of the integration project: brings the local stack up (or reuses the running one), provides
 * its description to tests (`inject('stack')`, read through `stack()` in ./stack.ts) and points the environment at
 * it. The stack stays up afterwards, so the next run starts in a second; `EKS_SYNC_STACK_TEARDOWN=1` stops it.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';
import { readStackInfo, type StackInfo } from '../../scripts/stack/info.js';
import { applyStackEnv, TEST_NAMESPACE_LABEL } from './stack.js';

const script = fileURLToPath(new URL('../../scripts/stack.sh', import.meta.url));
const CLUSTERS = 3;

function runStack(args: string[]): void {
  // Progress of a first-run build and any error (component, log file, last lines) go straight to the terminal.
  const result = spawnSync('bash', [script, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    throw new Error(`local stack: \`scripts/stack.sh ${args.join(' ')}\` failed (exit ${result.status}); see above`);
  }
}

/**
 * Namespaces of earlier runs are deleted now rather than after each run, so a failed run can still be inspected.
 * Only those older than ten minutes: another test run may be using the shared stack right now.
 */
async function deleteLeftoverNamespaces(info: StackInfo): Promise<void> {
  const cutoff = Date.now() - 10 * 60_000;
  for (const cluster of info.clusters) {
    const kc = new KubeConfig();
    kc.loadFromFile(info.kubeconfig);
    kc.setCurrentContext(cluster);
    const core = kc.makeApiClient(CoreV1Api);
    const { items } = await core.listNamespace({ labelSelector: TEST_NAMESPACE_LABEL });
    const old = items.filter((ns) => (ns.metadata?.creationTimestamp?.getTime() ?? 0) < cutoff);
    await Promise.all(old.map((ns) => core.deleteNamespace({ name: ns.metadata?.name ?? '' }).catch(() => undefined)));
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  runStack(['up', '--clusters', String(CLUSTERS)]);
  const info = readStackInfo();
  await deleteLeftoverNamespaces(info);
  project.provide('stack', info);
  // Workers inherit this process's environment: SDK clients built from it reach moto and the stack, never AWS.
  applyStackEnv(info);
  return () => {
    if (process.env.EKS_SYNC_STACK_TEARDOWN === '1') runStack(['down']);
  };
}
