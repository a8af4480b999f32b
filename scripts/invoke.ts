/**
 * `npm run invoke -- FUNCTION EVENT_FILE [--local]`: calls a real handler (on-rotation, backfill, reconcile) once with
 * an event file and a Lambda-shaped context, on whatever EKS_SYNC_CONFIG and AWS_* point at (e.g. the local stack:
 * `eval "$(npm run --silent stack -- env)"`). `--local` swaps the sample ARNs in the event for the ARN the AWS
 * emulator gave the secret of the same name, because sample events carry example ARNs.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { functionTimeoutMs, lambdaContext } from './lambda-context.js';

const FUNCTIONS = ['on-rotation', 'backfill', 'reconcile'] as const;
type FunctionName = (typeof FUNCTIONS)[number];

const { values, positionals } = parseArgs({ allowPositionals: true, options: { local: { type: 'boolean' } } });
const [name, file] = positionals;
if (!FUNCTIONS.includes(name as FunctionName) || file === undefined) {
  console.error(`usage: npm run invoke -- ${FUNCTIONS.join('|')} EVENT_FILE [--local]`);
  process.exit(2);
}

/** Replaces every string equal to `from` anywhere in the event. */
function replaceAll(value: unknown, from: string, to: string): unknown {
  if (value === from) return to;
  if (Array.isArray(value)) return value.map((v) => replaceAll(v, from, to));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceAll(v, from, to)]));
  }
  return value;
}

async function localize(event: unknown): Promise<unknown> {
  const text = JSON.stringify(event);
  const arns = new Set(text.match(/arn:aws:secretsmanager:[^"]+/g) ?? []);
  const client = new SecretsManagerClient({});
  let out = event;
  for (const arn of arns) {
    const secretName = arn.replace(/^arn:aws:secretsmanager:[^:]+:\d+:secret:/, '').replace(/-[A-Za-z0-9]{6}$/, '');
    const described = await client.send(new DescribeSecretCommand({ SecretId: secretName }));
    if (described.ARN !== undefined) out = replaceAll(out, arn, described.ARN);
  }
  return out;
}

// As long as Lambda would give this function (serverless.yml), so the pass deadline is the deployed one.
const functionName = (name as string).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const context = lambdaContext(functionName, functionTimeoutMs(functionName));

const raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
const event = values.local ? await localize(raw) : raw;
const module = (await import(`../functions/${name}.ts`)) as {
  handler: (event: unknown, context: Context) => Promise<unknown>;
};
try {
  const result = await module.handler(event, context);
  console.log(JSON.stringify(result, null, 2));
} catch (error) {
  console.error(`${(error as Error).name}: ${(error as Error).message}`);
  process.exitCode = 1;
}
