/**
 * A pass as work items (`defaults.fanout`): the planning pass enqueues them instead of applying, and each work
 * item's pass starts from the secrets its planner resolved.
 */
import { configHash, pinnedOf, planWork, resolvedOf } from '../fanout.js';
import type { Pass } from '../pass.js';
import type { Binding } from '../plan.js';
import type { WorkQueue } from '../ports/queue.js';
import type { SyncReport } from '../types.js';
import { type Resolved, resolveSecrets } from './resolve.js';

/**
 * The secrets of a work item as the planning pass resolved them, when it was planned on this configuration; else
 * (a deploy in between) resolved again from its ids, by the same identity rules. Not a work item: resolved here.
 */
export async function resolveWork(pass: Pass): Promise<Resolved> {
  const { work } = pass.request;
  if (work !== undefined && work.configHash === configHash(pass.config)) {
    return { resolved: resolvedOf(work), sources: [], notes: [], announced: pinnedOf(work) };
  }
  const resolved = await resolveSecrets(pass);
  if (work !== undefined) resolved.notes.push('work item planned on another configuration: secrets resolved again');
  return resolved;
}

/**
 * Plans the pass as work items and enqueues them instead of applying it: the report gains no results, `queued`
 * says how many items carry which share of it, and each item reports on its own under the same correlation id.
 */
export async function queuePass(
  pass: Pass,
  work: WorkQueue,
  planned: Binding[],
  resolved: Resolved,
  report: SyncReport,
): Promise<void> {
  const { request, log } = pass;
  const everything = request.secrets === undefined && !resolved.sources.some((s) => s.error !== undefined);
  const plan = await planWork(pass.config, request, pass.source, planned, resolved.resolved, everything);
  report.sources.push(...plan.sources);
  await work.send(plan.items);
  report.queued = {
    correlationId: request.pass,
    items: plan.items.length,
    clusters: plan.clusters,
    bindings: plan.bindings,
  };
  log.info('pass queued', { ...report.queued, secrets: plan.sources.map(({ id, versionId }) => ({ id, versionId })) });
}
