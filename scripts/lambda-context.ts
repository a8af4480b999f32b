/** A Lambda-shaped context for calling the real handlers outside Lambda (demo, invoke, benchmark, tests). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { parse } from 'yaml';

/** `remainingMs` counts down from the call, as in Lambda (where it is the function timeout at the start). */
export function lambdaContext(functionName: string, remainingMs = 300_000): Context {
  const requestId = crypto.randomUUID();
  const endsAt = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `2026/11/29/[$LATEST]${requestId.replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, endsAt - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/**
 * A function's own `timeout` in serverless.yml (`onRotation`, `backfill`, `reconcile`) in milliseconds: the time a
 * local call should start with, so that its pass deadline is the one Lambda would give.
 */
export function functionTimeoutMs(functionName: string): number {
  const template = parse(readFileSync(join(import.meta.dirname, '..', 'serverless.yml'), 'utf8')) as {
    functions?: Record<string, { timeout?: unknown }>;
  };
  const timeout = template.functions?.[functionName]?.timeout;
  if (typeof timeout !== 'number') throw new Error(`serverless.yml sets no timeout for function "${functionName}"`);
  return timeout * 1000;
}
