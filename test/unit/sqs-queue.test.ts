import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { continuation } from '../../lib/events/index.js';
import { createSqsQueueClient, sqsContinuationQueue } from '../../lib/queue/sqs.js';

const CANARY = 'pa55-CANARY-sqs-41';
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };

interface Seen {
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

describe('the SQS client (JSON protocol, SigV4)', () => {
  let server: Server;
  let queueUrl: string;
  const seen: Seen[] = [];
  let answer: { status: number; body: string } = { status: 200, body: '{"MessageId":"m-1"}' };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk) => {
        text += chunk;
      });
      req.on('end', () => {
        seen.push({ headers: req.headers, body: JSON.parse(text) as Record<string, unknown> });
        res.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.0' }).end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    queueUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/123456789012/continuations`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends a continuation as a signed SendMessage with its delay, capped at the 900 s SQS allows', async () => {
    // Prepare
    const queue = sqsContinuationQueue(
      createSqsQueueClient({ queueUrl, region: 'eu-west-1', credentials, requestMs: 5000 }),
    );
    const message = continuation({
      secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db-AbCdEf',
      versionId: 'v2',
      sync: 0,
      wave: 2,
      startedAt: '2026-12-03T10:00:00.000Z',
      sentAt: '2026-12-03T10:00:30.000Z',
      attempt: 1,
    });

    // Act
    await queue.send(message, 30);
    await queue.send(message, 3600);

    // Assess
    expect(seen.map((s) => s.body.DelaySeconds)).toEqual([30, 900]);
    const [first] = seen;
    expect(first?.headers['x-amz-target']).toBe('AmazonSQS.SendMessage');
    expect(first?.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(first?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/sqs\/aws4_request, /,
    );
    expect(first?.body.QueueUrl).toBe(queueUrl);
    expect(JSON.parse(String(first?.body.MessageBody))).toEqual(message);
  });

  it('fails ContinuationFailed naming the action and the AWS error type, never echoing what the error message quotes', async () => {
    // Prepare
    answer = {
      status: 400,
      body: JSON.stringify({ __type: 'com.amazonaws.sqs#InvalidParameterValue', message: CANARY }),
    };
    const client = createSqsQueueClient({ queueUrl, region: 'eu-west-1', credentials, requestMs: 5000 });

    // Act
    const error = await client.send(CANARY, 0).then(
      () => undefined,
      (e: unknown) => e as Error & { code: string },
    );

    // Assess
    expect(error?.code).toBe('ContinuationFailed');
    expect(error?.message).toBe('SQS SendMessage failed: com.amazonaws.sqs#InvalidParameterValue');
    expect(JSON.stringify(error)).not.toContain(CANARY);
  });
});
