/**
 * vitest global setup of the integration project: brings the local stack up (or reuses the running one), provides
 * its description to tests (`inject('stack')`, read through `stack()` in ./stack.ts) and points the environment at
 * it. The stack stays up afterwards, so the next run starts in a second; `EKS_SYNC_STACK_TEARDOWN=1` stops it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { applyStackEnv, type StackInfo, TEST_NAMESPACE_LABEL } from './stack.js';

const script = fileURLToPath(new URL('../../scripts/stack.sh', import.meta.url));
const CLUSTERS = 3;

function runStack(args: string[]): void {
  // Progress of a first-run build and any error (component, log file, last lines) go straight to the terminal.
  const result = spawnSync('bash', [script, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    throw new Error(`local stack: \`scripts/stack.sh ${args.join(' ')}\` failed (exit ${result.status}); see above`);
  }
}

/** Namespaces of earlier runs are deleted now rather than after each run, so a failed run can still be inspected. */
function deleteLeftoverNamespaces(info: StackInfo): void {
  for (const cluster of info.clusters) {
    execFileSync(
      `${info.kubectlDir}/kubectl`,
      [
        '--kubeconfig',
        info.kubeconfig,
        '--context',
        cluster,
        'delete',
        'namespace',
        '-l',
        TEST_NAMESPACE_LABEL,
        '--wait=false',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
}

export default function setup(project: TestProject): () => void {
  runStack(['up', '--clusters', String(CLUSTERS)]);
  const info = JSON.parse(execFileSync('bash', [script, 'env', '--json'], { encoding: 'utf8' })) as StackInfo;
  deleteLeftoverNamespaces(info);
  project.provide('stack', info);
  // Workers inherit this process's environment: SDK clients built from it reach moto and the stack, never AWS.
  applyStackEnv(info);
  return () => {
    if (process.env.EKS_SYNC_STACK_TEARDOWN === '1') runStack(['down']);
  };
}
