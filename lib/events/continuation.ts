/**
 * The continuation of a pass with waves (README "Waves"): a message on the continuation queue, delayed by the sync's
 * `rollout.checkEvery`, that makes the continuation function check the waves again. It carries ids, indexes and times
 * only, never a value: the pass it starts reads the secret again by version id, and decides from the clusters.
 */
import { z } from 'zod';
import { InputError } from '../errors.js';
import { isSqsBatch, parseJsonBody, readEachRecord } from './sqs.js';

const MESSAGE_TYPE = 'eks-secret-sync.continue-waves';

const continuationSchema = z.strictObject({
  type: z.literal(MESSAGE_TYPE),
  secretArn: z.string().regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/),
  versionId: z.string().min(1).max(64),
  sync: z.number().int().min(0),
  /** 1-based: the wave that was not healthy when the message was sent. */
  wave: z.number().int().min(1),
  /** When the first pass of this version's waves ended (the chain began), and when this message was sent. */
  startedAt: z.iso.datetime(),
  sentAt: z.iso.datetime(),
  /** 1 for the first continuation of a chain. */
  attempt: z.number().int().min(1),
});

/** One continuation message (see the module comment). */
export type Continuation = z.output<typeof continuationSchema>;

/** Where continuations go: the SQS queue on Lambda, an in-memory or emulated queue in tests. */
export interface ContinuationQueue {
  /** Sends one message, visible `delaySeconds` (0-900) later. */
  send(continuation: Continuation, delaySeconds: number): Promise<void>;
}

/** A continuation message as `type` and fields; `type` is set here so that callers cannot send anything else. */
export function continuation(fields: Omit<Continuation, 'type'>): Continuation {
  return { type: MESSAGE_TYPE, ...fields };
}

/** A continuation batch: the readable messages, and the ones that are not continuations (they fail alone). */
export interface ContinuationBatch {
  messages: Array<{ messageId: string; continuation: Continuation }>;
  invalid: Array<{ messageId: string; error: InputError }>;
}

/** Reads one message body; throws InputError `InvalidEvent` naming the field (never quoting the body). */
export function readContinuation(body: string): Continuation {
  const parsed = continuationSchema.safeParse(parseJsonBody(body, 'InvalidEvent', 'invalid continuation'));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || '(message)';
    throw new InputError('InvalidEvent', `invalid continuation: "${field}": ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** Reads an SQS batch of continuations. Throws InputError only for a payload that is not an SQS batch. */
export function readContinuationBatch(event: unknown): ContinuationBatch {
  if (!isSqsBatch(event)) throw new InputError('InvalidEvent', 'invalid continuation batch: no "Records" array');
  const { read, invalid } = readEachRecord(event, readContinuation);
  return { messages: read.map(({ messageId, value }) => ({ messageId, continuation: value })), invalid };
}
