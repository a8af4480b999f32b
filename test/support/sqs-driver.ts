/**
 * What Lambda's SQS event source mapping does, in process: messages wait in a queue, a poll collects up to
 * `batchSize` of them or whatever arrived within `windowMs` (the maximum batching window), invokes the real handler
 * with an SQSEvent, deletes the records it did not report in `batchItemFailures`, and leaves the others for the next
 * receive; after `maxReceiveCount` receives a message moves to the dead-letter queue (the queue's redrive policy).
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
 * `QueueDriver` does the same over a real queue of the stack's SQS, where message delays are the queue's own.
 */
import { randomUUID } from 'node:crypto';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createSqsQueueClient, type SqsQueueClient } from '../../lib/queue/sqs.js';

const QUEUE_ARN = 'arn:aws:sqs:eu-west-1:123456789012:eks-secret-sync-test-rotations';

/** An SQSEvent of these messages, each record shaped as the event source delivers it. */
export function sqsEvent(messages: Array<{ messageId?: string; body: string; receiveCount?: number }>): SQSEvent {
  return {
    Records: messages.map(({ messageId, body, receiveCount }): SQSRecord => {
      const sent = Date.now();
      return {
        messageId: messageId ?? randomUUID(),
        receiptHandle: randomUUID(),
        body,
        attributes: {
          ApproximateReceiveCount: String(receiveCount ?? 1),
          SentTimestamp: String(sent),
          SenderId: 'AIDAEVENTBRIDGE',
          ApproximateFirstReceiveTimestamp: String(sent),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: QUEUE_ARN,
        awsRegion: 'eu-west-1',
      };
    }),
  };
}

/**
 * Invokes the handler with one batch and returns the ids of the messages it failed: those its partial batch response
 * names, or all of them when it threw (a thrown invocation fails the whole batch, as with the real event source).
 */
async function invokeBatch(
  handler: (event: SQSEvent, context: Context) => Promise<unknown>,
  context: Context,
  event: SQSEvent,
): Promise<string[]> {
  try {
    const response = (await handler(event, context)) as SQSBatchResponse | undefined;
    return (response?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
  } catch {
    return event.Records.map((r) => r.messageId);
  }
}

interface Queued {
  messageId: string;
  body: string;
  receives: number;
}

export interface SqsDriverOptions {
  batchSize: number;
  /** Maximum batching window; 0 invokes with whatever is queued at the poll. */
  windowMs: number;
  maxReceiveCount: number;
}

/** One invocation the driver made: the message ids it carried and the ones the handler reported failed. */
export interface DriverInvocation {
  messageIds: string[];
  failed: string[];
}

export class SqsDriver {
  private readonly queue: Queued[] = [];
  /** Messages that failed `maxReceiveCount` receives. */
  readonly deadLetters: Queued[] = [];
  readonly invocations: DriverInvocation[] = [];

  constructor(
    private readonly handler: (event: SQSEvent, context: Context) => Promise<unknown>,
    private readonly context: () => Context,
    private readonly options: SqsDriverOptions,
  ) {}

  /** Sends one message (an EventBridge event as the rule target delivers it: the event JSON as the body). */
  send(body: unknown): string {
    const messageId = randomUUID();
    this.queue.push({ messageId, body: typeof body === 'string' ? body : JSON.stringify(body), receives: 0 });
    return messageId;
  }

  get depth(): number {
    return this.queue.length;
  }

  /**
   * One poll: waits up to the batching window for a full batch (returns early once `batchSize` are queued), then
   * invokes the handler once with what it received. Returns undefined when the queue stayed empty.
   */
  async poll(): Promise<DriverInvocation | undefined> {
    const until = Date.now() + this.options.windowMs;
    while (this.queue.length < this.options.batchSize && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, until - Date.now())));
    }
    const received = this.queue.splice(0, this.options.batchSize);
    if (received.length === 0) return undefined;
    for (const m of received) m.receives += 1;
    const event = sqsEvent(received.map((m) => ({ messageId: m.messageId, body: m.body, receiveCount: m.receives })));
    const failed = await invokeBatch(this.handler, this.context(), event);
    for (const m of received) {
      if (!failed.includes(m.messageId)) continue;
      if (m.receives >= this.options.maxReceiveCount) this.deadLetters.push(m);
      else this.queue.push(m);
    }
    const invocation = { messageIds: received.map((m) => m.messageId), failed };
    this.invocations.push(invocation);
    return invocation;
  }

  /** Polls until the queue is empty (failed messages come back until they move to the dead-letter queue). */
  async drain(): Promise<DriverInvocation[]> {
    const made: DriverInvocation[] = [];
    for (let invocation = await this.poll(); invocation !== undefined; invocation = await this.poll()) {
      made.push(invocation);
    }
    return made;
  }
}

/**
 * The same event source over a real queue (moto's SQS in the local stack): receives what is visible (a message sent
 * with DelaySeconds stays invisible until its delay passed, as on SQS), invokes the real handler with an SQSEvent,
 * deletes the records it did not report failed, and leaves the failed ones for the queue's visibility timeout.
 */
export class QueueDriver {
  readonly invocations: DriverInvocation[] = [];

  constructor(
    readonly client: SqsQueueClient,
    private readonly handler: (event: SQSEvent, context: Context) => Promise<unknown>,
    private readonly context: () => Context,
  ) {}

  /** A queue in the stack's SQS (name made unique by the caller), with a short visibility timeout for redeliveries. */
  static async createQueue(name: string, visibilityTimeoutSeconds = 2): Promise<SqsQueueClient> {
    const endpoint = process.env.AWS_ENDPOINT_URL;
    if (endpoint === undefined) throw new Error('AWS_ENDPOINT_URL is not set: call stack() first');
    const region = process.env.AWS_REGION ?? 'us-east-1';
    const response = await fetch(`${endpoint.replace(/\/$/, '')}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'AmazonSQS.CreateQueue',
        // moto reads the region and account from the credential scope, and checks no signature.
        authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/${region}/sqs/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: JSON.stringify({ QueueName: name, Attributes: { VisibilityTimeout: String(visibilityTimeoutSeconds) } }),
    });
    const { QueueUrl } = (await response.json()) as { QueueUrl: string };
    return createSqsQueueClient({ queueUrl: QueueUrl, region, requestMs: 10_000 });
  }

  /** Messages visible, in flight or still delayed. */
  async pending(): Promise<number> {
    const a = await this.client.attributes([
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesNotVisible',
      'ApproximateNumberOfMessagesDelayed',
    ]);
    return Object.values(a).reduce((n, v) => n + Number(v), 0);
  }

  /** One receive and, when it got messages, one invocation. */
  async poll(): Promise<DriverInvocation | undefined> {
    const received = await this.client.receive(10);
    if (received.length === 0) return undefined;
    const event = sqsEvent(
      received.map((m) => ({
        messageId: m.MessageId,
        body: m.Body,
        receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
      })),
    );
    const failed = await invokeBatch(this.handler, this.context(), event);
    for (const m of received) if (!failed.includes(m.MessageId)) await this.client.delete(m.ReceiptHandle);
    const invocation = { messageIds: received.map((m) => m.MessageId), failed };
    this.invocations.push(invocation);
    return invocation;
  }

  /** Polls (every `everyMs`) until nothing is pending, or throws after `timeoutMs`. */
  async drain(timeoutMs: number, everyMs = 250): Promise<DriverInvocation[]> {
    const made: DriverInvocation[] = [];
    const until = Date.now() + timeoutMs;
    while ((await this.pending()) > 0) {
      if (Date.now() > until) throw new Error(`queue not drained within ${timeoutMs} ms`);
      const invocation = await this.poll();
      if (invocation !== undefined) made.push(invocation);
      else await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
    return made;
  }
}
