/**
 * The real entry points on the local stack, cold-started as Lambda does: a configuration file, EKS_SYNC_CONFIG
 * pointing at it, and a fresh module graph, so that each handler's module scope builds its runtime again.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import type { lambdaContext } from './lambda.js';
import { syncKubeConfigPath } from './stack.js';

/** A handler as the stack tests call it: any event, a Lambda-shaped context, the handler's result. */
export type Handler<R = unknown> = (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<R>;

// One import per entry point, written out: the bundler and the type checker see each module.
const entryPoints = {
  'on-rotation': () => import('../../functions/on-rotation.js'),
  backfill: () => import('../../functions/backfill.js'),
  reconcile: () => import('../../functions/reconcile.js'),
  'continue-waves': () => import('../../functions/continue-waves.js'),
  'work-item': () => import('../../functions/work-item.js'),
};

export type EntryPoint = keyof typeof entryPoints;

/** The `clusters:` section for these stack clusters, each reached as the sync identity (its kubeconfig context). */
export function clustersYaml(clusters: readonly string[]): string {
  const path = syncKubeConfigPath();
  return `clusters:\n${clusters.map((c) => `  ${c}: { kubeconfig: { path: ${path}, context: ${c} } }`).join('\n')}\n`;
}

/** Writes a configuration to a fresh temporary folder; returns the file's path. */
export function configFile(text: string, name = 'eks-secret-sync.yaml'): string {
  const path = join(mkdtempSync(join(tmpdir(), 'eks-sync-it-')), name);
  writeFileSync(path, text);
  return path;
}

/** Cold-starts these entry points on the configuration file at `configPath`; one fresh module graph for all. */
export async function coldStart<const N extends EntryPoint, R = unknown>(
  configPath: string,
  ...names: N[]
): Promise<Record<N, Handler<R>>> {
  process.env.EKS_SYNC_CONFIG = configPath;
  vi.resetModules();
  const handlers = {} as Record<N, Handler<R>>;
  for (const name of names) handlers[name] = (await entryPoints[name]()).handler as unknown as Handler<R>;
  return handlers;
}

/** Cold-starts the on-rotation handler on a configuration given as text. */
export async function onRotationHandler<R = unknown>(config: string): Promise<Handler<R>> {
  return (await coldStart<'on-rotation', R>(configFile(config), 'on-rotation'))['on-rotation'];
}
