/**
 * An SQS batch of EventBridge events (the rules target a queue that `onRotation` consumes) -> one rotation pass for
 * every secret the batch rotated, one for the secrets it deleted, and the messages that ask for nothing or cannot be
 * read. Each message body is one EventBridge event, as the rule delivered it; messages here name fields and ids only.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
 */
import type { SyncRequest } from '../domain/request.js';
import { InputError } from '../errors.js';
import { readSecretEvent } from './eventbridge.js';

/** The fields of an SQS record this reads (`@types/aws-lambda` SQSRecord has them all). */
export interface SqsRecordLike {
  messageId: string;
  body: string;
}

/** One message of a pass: the secret its event named, and the event's id when it had one. */
export interface BatchMessage {
  messageId: string;
  secretId: string;
  eventId?: string;
}

/** One engine pass of a batch and the messages whose secrets it covers (several may name one secret). */
export interface BatchPass {
  request: SyncRequest;
  messages: BatchMessage[];
}

export interface RotationBatch {
  /** At most two: the rotated secrets' pass, then the deleted secrets' pass. */
  passes: BatchPass[];
  /** Messages whose event asks for nothing (logged; they succeed). */
  ignored: Array<{ messageId: string; reason: string; secretId?: string }>;
  /** Messages whose body is not a Secrets Manager event: they fail alone, and the queue's redrive moves them on. */
  invalid: Array<{ messageId: string; error: InputError }>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An SQS event source's payload, as opposed to one EventBridge event or manual input: a `Records` array. */
export function isSqsBatch(input: unknown): input is { Records: unknown[] } {
  return isRecord(input) && Array.isArray(input.Records);
}

/** The records of an SQS batch; throws InputError for a record without a messageId (nothing could be reported for it). */
export function readRecords(event: { Records: unknown[] }): SqsRecordLike[] {
  return event.Records.map((record, i) => {
    // Without a string messageId a failure could not be reported for this record alone: refuse the whole batch.
    if (!isRecord(record) || typeof record.messageId !== 'string' || record.messageId === '') {
      throw new InputError('InvalidEvent', `invalid SQS batch: "Records[${i}].messageId" must be a non-empty string`);
    }
    return { messageId: record.messageId, body: typeof record.body === 'string' ? record.body : '' };
  });
}

/** A batch read record by record: what each message held, and the messages that could not be read. */
export interface RecordsRead<T> {
  read: Array<{ messageId: string; value: T }>;
  /** Messages `read` refused with an InputError: they fail alone, and the queue's redrive moves them on. */
  invalid: Array<{ messageId: string; error: InputError }>;
}

/** Reads each record's body with `read`; an InputError fails that message alone, any other error the batch. */
export function readEachRecord<T>(event: { Records: unknown[] }, read: (body: string) => T): RecordsRead<T> {
  const out: RecordsRead<T> = { read: [], invalid: [] };
  for (const { messageId, body } of readRecords(event)) {
    try {
      out.read.push({ messageId, value: read(body) });
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      out.invalid.push({ messageId, error });
    }
  }
  return out;
}

/** A message body as JSON; InputError `code`, "`what`: the message body is not JSON", when it is not. */
export function parseJsonBody(body: string, code: ConstructorParameters<typeof InputError>[0], what: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    // The parser's message may quote the body; this says only that it is not JSON.
    throw new InputError(code, `${what}: the message body is not JSON`);
  }
}

interface Parsed {
  messageId: string;
  secretId: string;
  eventId?: string;
  versionId?: string;
  /** The event's `time`, to keep the newest announced version of a secret named twice. */
  time: string;
}

/** One pass over the messages' secrets (distinct, in message order), each with its newest announced version. */
function passOf(parsed: Parsed[], deleted: boolean): BatchPass {
  const secrets = [...new Set(parsed.map((p) => p.secretId))];
  // As one event's request (no dry run, consumers restart); the messages' event ids are in the handler's log.
  const request: SyncRequest = { trigger: 'rotation', secrets, dryRun: false, restart: true, origin: 'sqs' };
  if (deleted) request.deleted = true;
  else {
    const newest = new Map<string, Parsed>();
    for (const p of parsed) {
      if (p.versionId === undefined) continue;
      const seen = newest.get(p.secretId);
      // ISO-8601 times of one format compare as strings; a tie keeps the later message.
      if (seen === undefined || p.time >= seen.time) newest.set(p.secretId, p);
    }
    if (newest.size > 0) {
      request.versionIds = Object.fromEntries([...newest].map(([id, p]) => [id, p.versionId as string]));
    }
  }
  const messages = parsed.map(({ messageId, secretId, eventId }) =>
    eventId === undefined ? { messageId, secretId } : { messageId, secretId, eventId },
  );
  return { request, messages };
}

/**
 * Reads an SQS batch of EventBridge events into one pass for the rotated secrets and one for the deleted ones (so a
 * workload consuming several of them restarts once). A message that cannot be read is `invalid`, never a thrown
 * error; throws InputError `InvalidEvent` only for a batch without message ids.
 */
export function readRotationBatch(event: { Records: unknown[] }): RotationBatch {
  const syncs: Parsed[] = [];
  const deletes: Parsed[] = [];
  const { read, invalid } = readEachRecord(event, (body) => {
    const payload = parseJsonBody(body, 'InvalidEvent', 'invalid Secrets Manager event');
    const time = isRecord(payload) && typeof payload.time === 'string' ? payload.time : '';
    return { ...readSecretEvent(payload), time };
  });
  const batch: RotationBatch = { passes: [], ignored: [], invalid };
  for (const { messageId, value } of read) {
    const { parsed, eventId, time } = value;
    if (parsed.kind === 'ignore') {
      batch.ignored.push(
        parsed.secretId === undefined
          ? { messageId, reason: parsed.reason }
          : { messageId, reason: parsed.reason, secretId: parsed.secretId },
      );
      continue;
    }
    const entry: Parsed = { messageId, secretId: parsed.secretId, time };
    if (eventId !== undefined) entry.eventId = eventId;
    if (parsed.kind === 'sync' && parsed.versionId !== undefined) entry.versionId = parsed.versionId;
    (parsed.kind === 'delete' ? deletes : syncs).push(entry);
  }
  if (syncs.length > 0) batch.passes.push(passOf(syncs, false));
  if (deletes.length > 0) batch.passes.push(passOf(deletes, true));
  return batch;
}
