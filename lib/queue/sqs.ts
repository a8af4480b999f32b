/**
 * A small SQS client over the AWS JSON 1.0 protocol (`X-Amz-Target: AmazonSQS.<Action>`), SigV4-signed with the
 * default credential chain: the continuation queue needs SendMessage only (and the local driver Receive/Delete), which
 * does not justify another SDK client in every bundle. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/sqs-json-faqs.html
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { SyncError } from '../errors.js';
import type { Continuation, ContinuationQueue } from '../events/continuation.js';

/** Credentials as the SigV4 signer takes them. */
type Credentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];

export interface SqsClientOptions {
  /** The queue's URL (`https://sqs.<region>.amazonaws.com/<account>/<name>`); its origin is the endpoint. */
  queueUrl: string;
  /** Defaults to the region in the queue URL's host, else `AWS_REGION` as the caller passes it. */
  region?: string;
  credentials?: Credentials;
  /** Per request; the call is abandoned (and fails `Timeout`) after it. */
  requestMs: number;
}

/** One received message (the fields the local driver uses). */
export interface ReceivedMessage {
  MessageId: string;
  ReceiptHandle: string;
  Body: string;
  Attributes?: Record<string, string>;
}

/** The SQS calls we make on one queue. */
export interface SqsQueueClient {
  readonly queueUrl: string;
  send(body: string, delaySeconds: number): Promise<string>;
  receive(max: number): Promise<ReceivedMessage[]>;
  delete(receiptHandle: string): Promise<void>;
  attributes(names: string[]): Promise<Record<string, string>>;
}

function regionOf(queueUrl: string, fallback: string | undefined): string {
  const host = new URL(queueUrl).hostname;
  return /^sqs\.([a-z0-9-]+)\.amazonaws\.com/.exec(host)?.[1] ?? fallback ?? 'us-east-1';
}

/** A client for one queue. SQS errors become SyncError `ContinuationFailed` naming the action and the AWS code only. */
export function createSqsQueueClient(options: SqsClientOptions): SqsQueueClient {
  const url = new URL(options.queueUrl);
  const region = regionOf(options.queueUrl, options.region);
  const signer = new SignatureV4({
    service: 'sqs',
    region,
    credentials: options.credentials ?? fromNodeProviderChain(),
    sha256: Sha256,
  });

  async function call<T>(action: string, input: Record<string, unknown>): Promise<T> {
    const body = JSON.stringify({ QueueUrl: options.queueUrl, ...input });
    const request = new HttpRequest({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port === '' ? {} : { port: Number(url.port) }),
      path: '/',
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `AmazonSQS.${action}`,
      },
      body,
    });
    const signed = await signer.sign(request);
    let response: Response;
    try {
      response = await fetch(`${url.origin}/`, {
        method: 'POST',
        headers: signed.headers,
        body,
        signal: AbortSignal.timeout(options.requestMs),
      });
    } catch (error) {
      throw new SyncError('ContinuationFailed', `SQS ${action} failed: ${(error as Error).name}`, {
        cause: error,
        retryable: true,
      });
    }
    const text = await response.text();
    if (!response.ok) {
      // The error's __type (e.g. com.amazonaws.sqs#QueueDoesNotExist) names the problem; its message may echo input.
      let code = `HTTP ${response.status}`;
      try {
        code = String((JSON.parse(text) as { __type?: string }).__type ?? code);
      } catch {
        // Not JSON: the status says enough.
      }
      throw new SyncError('ContinuationFailed', `SQS ${action} failed: ${code}`, {
        retryable: response.status >= 500 || response.status === 429,
      });
    }
    return (text === '' ? {} : JSON.parse(text)) as T;
  }

  return {
    queueUrl: options.queueUrl,
    async send(body, delaySeconds) {
      const out = await call<{ MessageId: string }>('SendMessage', { MessageBody: body, DelaySeconds: delaySeconds });
      return out.MessageId;
    },
    async receive(max) {
      const out = await call<{ Messages?: ReceivedMessage[] }>('ReceiveMessage', {
        MaxNumberOfMessages: max,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['All'],
        AttributeNames: ['All'],
      });
      return out.Messages ?? [];
    },
    async delete(receiptHandle) {
      await call('DeleteMessage', { ReceiptHandle: receiptHandle });
    },
    async attributes(names) {
      const out = await call<{ Attributes?: Record<string, string> }>('GetQueueAttributes', { AttributeNames: names });
      return out.Attributes ?? {};
    },
  };
}

/** The continuation queue on SQS: each message delayed by its wave's `checkEvery` (SQS allows 0-900 s). */
export function sqsContinuationQueue(client: SqsQueueClient): ContinuationQueue {
  return {
    async send(message: Continuation, delaySeconds: number) {
      await client.send(JSON.stringify(message), Math.max(0, Math.min(900, Math.round(delaySeconds))));
    },
  };
}
