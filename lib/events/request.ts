/** Builds the engine's SyncRequest from a parsed event, from manual backfill input, or for a scheduled reconcile. */
import * as z from 'zod';
import { fieldPath } from '../domain/field-path.js';
import type { SyncRequest } from '../domain/request.js';
import { InputError } from '../errors.js';
import { type ParsedEvent, readSecretEvent } from './eventbridge.js';

export interface ToSyncRequestOptions {
  /** The EventBridge event id, kept as `origin` so logs tie the pass to its event. */
  eventId?: string;
}

/** A rotation-triggered request for one secret: no dry run, consumers restart. `ignore` events have none. */
export function toSyncRequest(
  parsed: Exclude<ParsedEvent, { kind: 'ignore' }>,
  opts: ToSyncRequestOptions = {},
): SyncRequest {
  const request: SyncRequest = {
    trigger: 'rotation',
    secrets: [parsed.secretId],
    dryRun: false,
    restart: true,
    origin: opts.eventId ?? 'eventbridge',
  };
  if (parsed.kind === 'delete') request.deleted = true;
  else if (parsed.versionId !== undefined) request.versionId = parsed.versionId;
  return request;
}

/** What the handlers return for an event that asks for nothing: the parser's reason and the secret, if named. */
export type IgnoredEvent = { ignored: string; secretId?: string };

/**
 * One EventBridge event -> the rotation request it asks for (its `origin` the event id), or why it is ignored.
 * Throws InputError `InvalidEvent` as `parseSecretEvent` does.
 */
export function rotationRequest(event: unknown): SyncRequest | IgnoredEvent {
  const { parsed, eventId } = readSecretEvent(event);
  if (parsed.kind === 'ignore') {
    return parsed.secretId === undefined
      ? { ignored: parsed.reason }
      : { ignored: parsed.reason, secretId: parsed.secretId };
  }
  return toSyncRequest(parsed, eventId === undefined ? {} : { eventId });
}

const ids = (what: string) =>
  z
    .array(
      z
        .string()
        .trim()
        .min(1, { error: `${what} must not be empty strings` }),
    )
    .min(1, { error: `omit it to mean every ${what.replace(/s$/, '')}; an empty list selects nothing` });

const BackfillInput = z.strictObject({
  secrets: ids('secrets').optional(),
  clusters: ids('clusters').optional(),
  namespaces: ids('namespaces').optional(),
  dryRun: z.boolean().optional(),
  restart: z.boolean().optional(),
});

function issueMessage(issue: z.core.$ZodIssue): string {
  const path = fieldPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (allowed: secrets, clusters, namespaces, dryRun, restart)`;
    case 'invalid_type':
      return path === ''
        ? 'input must be an object'
        : `"${path}" must be ${issue.expected === 'array' ? 'an array of strings' : `a ${issue.expected}`}`;
    default:
      return `"${path}": ${issue.message}`;
  }
}

function dedupe(values: string[] | undefined): string[] | undefined {
  return values === undefined ? undefined : [...new Set(values)];
}

/**
 * Validates manual backfill input (`{ secrets?, clusters?, namespaces?, dryRun?, restart? }`); `null`, `undefined`
 * or `{}` means every configured secret. Throws InputError `InvalidInput` naming each wrong or unknown field.
 */
export function parseBackfillInput(input: unknown, opts: { origin?: string } = {}): SyncRequest {
  const parsed = BackfillInput.safeParse(input ?? {});
  if (!parsed.success) {
    throw new InputError('InvalidInput', `invalid backfill input: ${parsed.error.issues.map(issueMessage).join('; ')}`);
  }
  const { secrets, clusters, namespaces, dryRun, restart } = parsed.data;
  const request: SyncRequest = {
    trigger: 'backfill',
    dryRun: dryRun ?? false,
    restart: restart ?? true,
    origin: opts.origin ?? 'manual',
  };
  if (secrets !== undefined) request.secrets = dedupe(secrets);
  if (clusters !== undefined) request.clusters = dedupe(clusters);
  if (namespaces !== undefined) request.namespaces = dedupe(namespaces);
  return request;
}

/** The scheduled full pass over the configuration; it repairs drift and heals lost events. */
export function reconcileRequest(opts: { dryRun?: boolean; origin?: string } = {}): SyncRequest {
  return { trigger: 'reconcile', dryRun: opts.dryRun ?? false, restart: true, origin: opts.origin ?? 'schedule' };
}
