/**
 * An SQS batch of work items (README "Fleet scale: work items") -> the request each item asks a worker to run, and
 * the messages that are not work items. Checked field by field: a worker never runs a guess of a pass.
 */
import { z } from 'zod';
import type { SyncRequest } from '../domain/request.js';
import { WORK_ITEM_TYPE, type WorkItem } from '../domain/work-item.js';
import { InputError } from '../errors.js';
import { parseJsonBody, readEachRecord } from './sqs.js';

const name = z.string().min(1).max(2048);

const workItemSchema = z.strictObject({
  type: z.literal(WORK_ITEM_TYPE),
  correlationId: name,
  item: z.number().int().min(1),
  items: z.number().int().min(1),
  trigger: z.enum(['rotation', 'backfill', 'reconcile']),
  restart: z.boolean(),
  clusters: z.array(name).min(1),
  namespaces: z.array(name).min(1).optional(),
  secrets: z
    .array(z.strictObject({ sync: z.number().int().min(0), fetchId: name, name, versionId: name.optional() }))
    .min(1),
  everything: z.boolean(),
  configHash: name,
  origin: name.optional(),
});

/** The request a worker runs for one item: its clusters, its secrets as resolved, never queued again. */
export function workRequest(item: WorkItem): SyncRequest {
  const { correlationId, item: index, items, secrets, everything, configHash } = item;
  return {
    trigger: item.trigger,
    // A reconcile of everything keeps "everything" (orphans, and a fresh resolve after a deploy); else the ids.
    ...(everything ? {} : { secrets: [...new Set(secrets.map((s) => s.fetchId))] }),
    clusters: item.clusters,
    ...(item.namespaces === undefined ? {} : { namespaces: item.namespaces }),
    dryRun: false,
    restart: item.restart,
    origin: item.origin ?? correlationId,
    work: { correlationId, item: index, items, secrets, everything, configHash },
  };
}

/** Reads one message body as a work item. Throws InputError naming the first bad field (never a value). */
export function parseWorkItem(body: string): WorkItem {
  const parsed = workItemSchema.safeParse(parseJsonBody(body, 'InvalidInput', 'invalid work item'));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? 'the message' : `"${issue.path.join('.')}"`;
    throw new InputError('InvalidInput', `invalid work item: ${where}: ${issue?.code ?? 'invalid'}`);
  }
  return parsed.data as WorkItem;
}

export interface WorkBatch {
  items: Array<{ messageId: string; item: WorkItem; request: SyncRequest }>;
  invalid: Array<{ messageId: string; error: InputError }>;
}

/** The work items of an SQS batch; a message that is not one fails alone. */
export function readWorkBatch(event: { Records: unknown[] }): WorkBatch {
  const { read, invalid } = readEachRecord(event, (body) => {
    const item = parseWorkItem(body);
    return { item, request: workRequest(item) };
  });
  return { items: read.map(({ messageId, value }) => ({ messageId, ...value })), invalid };
}
