/**
 * A burst of rotations through the rotation queue: 20 secrets consumed by one Deployment, rotated at once, reach the
 * real on-rotation handler as SQS batches (test/support/sqs-driver.ts plays Lambda's event source mapping), on the
 * real API server and the AWS emulator. Runs as the least-privilege `eks-secret-sync` identity.
 */
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { V1Deployment } from '@kubernetes/client-node';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubernetesNameFor } from '../../lib/domain/names.js';
import { labelUpdatedEvent } from '../../scripts/label-event.js';
import { clustersYaml, onRotationHandler } from '../support/handlers.js';
import { lambdaContext, recordOutput } from '../support/lambda.js';
import { SqsDriver } from '../support/sqs-driver.js';
import { adminApis, freshNamespace, secretsManager, stack, waitFor } from '../support/stack.js';

type Handler = (event: SQSEvent, context: ReturnType<typeof lambdaContext>) => Promise<unknown>;

const COUNT = 20;
const run = Date.now().toString(36);
const prefix = `it/burst-${run}/`;
const names = Array.from({ length: COUNT }, (_, i) => `${prefix}s${i}`);
const value = (round: string, name: string) => `${round}-pw-${run}-${name.slice(-3)}-Qv72`;
const output = recordOutput();

let cluster: string;
let namespace: string;
let handler: Handler;
const arns = new Map<string, string>();

/** One Deployment consuming all the burst's Secrets (envFrom each). */
function web(): V1Deployment {
  return {
    metadata: { name: 'web' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'app',
              image: 'registry.invalid/app:1',
              envFrom: names.map((n) => ({ secretRef: { name: kubernetesNameFor(n) } })),
            },
          ],
        },
      },
    },
  };
}

async function replicaSets(): Promise<number> {
  const { items } = await adminApis(cluster).apps.listNamespacedReplicaSet({ namespace });
  return items.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.name === 'web')).length;
}

async function restartedAt(): Promise<string | undefined> {
  const d = await adminApis(cluster).apps.readNamespacedDeployment({ name: 'web', namespace });
  return d.spec?.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'];
}

async function password(name: string): Promise<string | undefined> {
  const s = await adminApis(cluster).core.readNamespacedSecret({ name: kubernetesNameFor(name), namespace });
  const encoded = s.data?.password;
  return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
}

/** Puts a new value into every secret of the burst; returns each one's new version id. */
async function rotateAll(round: string): Promise<Map<string, string>> {
  const versions = await Promise.all(
    names.map(async (name) => {
      const put = await secretsManager().send(
        new PutSecretValueCommand({ SecretId: name, SecretString: JSON.stringify({ password: value(round, name) }) }),
      );
      return [name, put.VersionId as string] as const;
    }),
  );
  return new Map(versions);
}

function driver(options: { maxReceiveCount: number }): SqsDriver {
  return new SqsDriver(handler, () => lambdaContext('onRotation'), { batchSize: 100, windowMs: 2_000, ...options });
}

describe('a burst of rotations through the rotation queue', () => {
  beforeAll(async () => {
    cluster = stack().clusters[0] as string;
    namespace = (await freshNamespace([cluster])).name;
    for (const name of names) {
      const created = await secretsManager().send(
        new CreateSecretCommand({ Name: name, SecretString: JSON.stringify({ password: value('first', name) }) }),
      );
      arns.set(name, created.ARN as string);
    }
    await adminApis(cluster).apps.createNamespacedDeployment({ namespace, body: web() });
    await waitFor(async () => (await replicaSets()) === 1, 20_000);
    handler = await onRotationHandler(`${clustersYaml([cluster])}syncs:
  - source: { namePrefix: ${prefix} }
    targets:
      - clusters: [${cluster}]
        namespaces: [${namespace}]
`);
    // The first burst creates the 20 Secrets, in one batch.
    const first = driver({ maxReceiveCount: 1 });
    for (const name of names) {
      first.send(labelUpdatedEvent({ name, arn: arns.get(name) as string }, crypto.randomUUID()));
    }
    await first.drain();
    await waitFor(async () => (await replicaSets()) === 2, 20_000);
  }, 120_000);

  afterAll(() => output.stop());

  it('syncs 20 rotated secrets in one pass and restarts their Deployment once; a poison message fails alone', async () => {
    // Prepare
    const versions = await rotateAll('second');
    const rsBefore = await replicaSets();
    const restartBefore = await restartedAt();
    const queue = driver({ maxReceiveCount: 2 });
    const ids = names.map((name) =>
      queue.send(labelUpdatedEvent({ name, arn: arns.get(name) as string }, versions.get(name))),
    );
    const poison = queue.send('{"source": "aws.secretsmanager", "detail-type": "Secret Label Updated"');

    // Act
    const burst = await queue.poll();
    const redeliveries = await queue.drain();

    // Assess
    expect(burst?.messageIds).toEqual([...ids, poison]);
    expect(burst?.failed).toEqual([poison]);
    for (const name of names) expect(await password(name)).toBe(value('second', name));
    // One new template: one new ReplicaSet and one restart annotation change for the 20 Secrets.
    await waitFor(async () => (await replicaSets()) === rsBefore + 1, 20_000);
    expect(await restartedAt()).not.toBe(restartBefore);
    // The poison message came back alone, failed again and moved to the dead-letter queue.
    expect(redeliveries).toEqual([{ messageIds: [poison], failed: [poison] }]);
    expect(queue.deadLetters.map((m) => m.messageId)).toEqual([poison]);
    expect(queue.depth).toBe(0);
    expect(await replicaSets()).toBe(rsBefore + 1);
    expect(output.text()).not.toContain(value('second', names[0] as string));
  });

  it('is harmless when the burst is delivered again (at least once): nothing is written or restarted', async () => {
    // Prepare
    const rsBefore = await replicaSets();
    const restartBefore = await restartedAt();
    const queue = driver({ maxReceiveCount: 1 });
    for (const name of names) queue.send(labelUpdatedEvent({ name, arn: arns.get(name) as string }, undefined));

    // Act
    const again = await queue.drain();

    // Assess
    expect(again).toHaveLength(1);
    expect(again[0]?.failed).toEqual([]);
    expect(await restartedAt()).toBe(restartBefore);
    expect(await replicaSets()).toBe(rsBefore);
  });
});
