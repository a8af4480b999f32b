/** A Lambda-shaped context for calling the real handlers outside Lambda (demo, invoke, benchmark, tests). */
import type { Context } from 'aws-lambda';

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
