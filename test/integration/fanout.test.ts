/**
 * A queued pass (`defaults.fanout`) against the inline one, on the local stack: the same rotation through the real
 * on-rotation handler, once inline and once planned as work items (one per cluster) on the stack's SQS, which the
 * queue driver feeds to the real workItem handler as Lambda's event source would. Both must leave the clusters in
 * the same state, restart each consumer once, carry no value in any message, and a redelivered item changes nothing.
 */
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HASH_ANNOTATION, VERSION_ANNOTATION } from '../../lib/domain/names.js';
import { labelUpdatedEvent } from '../../scripts/label-event.js';
import { expectNoSecretValueIn } from '../support/assertions.js';
import { clustersYaml, coldStart, configFile } from '../support/handlers.js';
import { lambdaContext, recordOutput } from '../support/lambda.js';
import { QueueDriver } from '../support/sqs-driver.js';
import {
  adminApis,
  decode,
  type FreshNamespace,
  findSecret,
  freshNamespace,
  secretsManager,
  stack,
} from '../support/stack.js';
import { deployment } from '../support/workloads.js';

interface Report {
  queued?: { items: number; clusters: number; bindings: number };
  results: Array<{ cluster: string; action: string; restarted: Array<{ name: string }> }>;
  summary: { failed: number };
}

const run = Date.now().toString(36);
const id = `it/fanout-${run}`;
const K8S_NAME = 'app-db';
const values = [`pw1-fanout-${run}-Zr8`, `pw2-fanout-${run}-Zr8`];
const output = recordOutput();
const namespaces: FreshNamespace[] = [];
let clusters: string[];
let arn: string;

/** The on-rotation handler over the stack's clusters and one namespace, inline or queued one cluster per item. */
async function entryPoints(namespace: string, mode: 'inline' | 'queue') {
  const config = `${clustersYaml(clusters)}defaults: { fanout: { mode: ${mode}, clustersPerItem: 1 } }
syncs:
  - source: { secret: ${id} }
    targets: [{ clusters: [${clusters.join(', ')}], namespaces: [${namespace}], secret: ${K8S_NAME} }]
`;
  const handlers = await coldStart<'on-rotation' | 'work-item', unknown>(
    configFile(config),
    'on-rotation',
    'work-item',
  );
  return {
    deliver: async (versionId: string) =>
      (await handlers['on-rotation'](
        labelUpdatedEvent({ name: id, arn }, versionId),
        lambdaContext('onRotation'),
      )) as Report,
    workItem: handlers['work-item'],
  };
}

/** What a pass leaves in one cluster's namespace: the Secret's value and our annotations, each workload's generation. */
async function stateOf(cluster: string, namespace: string) {
  const secret = await findSecret(cluster, namespace, K8S_NAME);
  const { apps } = adminApis(cluster);
  const generation = async (name: string) =>
    (await apps.readNamespacedDeployment({ namespace, name })).metadata?.generation;
  return {
    password: secret === undefined ? undefined : decode(secret, 'password'),
    version: secret?.metadata?.annotations?.[VERSION_ANNOTATION],
    hash: secret?.metadata?.annotations?.[HASH_ANNOTATION],
    resourceVersion: secret?.metadata?.resourceVersion,
    web: await generation('web'),
    other: await generation('other'),
  };
}

async function statesOf(namespace: string) {
  return Promise.all(clusters.map((cluster) => stateOf(cluster, namespace)));
}

describe('fan-out: a queued pass against the inline one', () => {
  let inline: FreshNamespace;
  let queued: FreshNamespace;
  let versions: string[];

  beforeAll(async () => {
    clusters = [...stack().clusters];
    inline = await freshNamespace(clusters);
    queued = await freshNamespace(clusters);
    namespaces.push(inline, queued);
    for (const cluster of clusters) {
      for (const namespace of [inline.name, queued.name]) {
        const { apps } = adminApis(cluster);
        await apps.createNamespacedDeployment({ namespace, body: deployment('web', K8S_NAME, 'envFrom') });
        await apps.createNamespacedDeployment({ namespace, body: deployment('other', 'unrelated', 'envFrom') });
      }
    }
    const created = await secretsManager().send(
      new CreateSecretCommand({ Name: id, SecretString: JSON.stringify({ password: values[0] }) }),
    );
    arn = created.ARN as string;
    versions = [created.VersionId as string];
  });

  afterAll(async () => {
    output.stop();
    await Promise.all(namespaces.map((n) => n.cleanup()));
  });

  it('writes the same Secrets and restarts each consumer once, through work items with no value in them', async () => {
    const queue = await QueueDriver.createQueue(`eks-secret-sync-it-work-${run}`, 5);
    process.env.EKS_SYNC_WORK_QUEUE_URL = queue.queueUrl;
    const inlinePass = await entryPoints(inline.name, 'inline');
    const queuedPass = await entryPoints(queued.name, 'queue');
    const bodies: string[] = [];
    const driver = new QueueDriver(
      queue,
      (event: SQSEvent, context) => {
        bodies.push(...event.Records.map((r) => r.body));
        return queuedPass.workItem(event, context as ReturnType<typeof lambdaContext>);
      },
      () => lambdaContext('workItem'),
    );

    // The first version creates the Secrets (and restarts the pods waiting for them); the rotation to the second
    // restarts each consumer once more.
    let created: Array<Array<Awaited<ReturnType<typeof stateOf>>>> = [];
    for (const [round, value] of values.entries()) {
      if (round > 0) {
        const put = await secretsManager().send(
          new PutSecretValueCommand({ SecretId: id, SecretString: JSON.stringify({ password: value }) }),
        );
        versions.push(put.VersionId as string);
      }
      const versionId = versions[round] as string;
      const done = await inlinePass.deliver(versionId);
      expect(done.queued).toBeUndefined();
      expect(done.summary.failed).toBe(0);
      const planned = await queuedPass.deliver(versionId);
      // One item per cluster; the planning pass itself writes nothing.
      expect(planned.queued).toMatchObject({
        items: clusters.length,
        clusters: clusters.length,
        bindings: clusters.length,
      });
      expect(planned.results).toEqual([]);
      const invocations = await driver.drain(120_000);
      expect(invocations.flatMap((i) => i.failed)).toEqual([]);
      if (round === 0) created = await Promise.all([statesOf(inline.name), statesOf(queued.name)]);
    }

    const [inlineState, queuedState] = await Promise.all([statesOf(inline.name), statesOf(queued.name)]);
    for (const [pass, states] of [inlineState, queuedState].entries()) {
      for (const [i, state] of states.entries()) {
        const before = created[pass]?.[i];
        expect(before).toMatchObject({ password: values[0], version: versions[0] });
        expect(state).toMatchObject({
          password: values[1],
          version: versions[1],
          web: (before?.web ?? 0) + 1,
          other: 1,
        });
      }
    }
    const comparable = ({ resourceVersion: _rv, ...rest }: Awaited<ReturnType<typeof stateOf>>) => rest;
    expect(queuedState.map(comparable)).toEqual(inlineState.map(comparable));
    expect(bodies).toHaveLength(2 * clusters.length);
    expectNoSecretValueIn(bodies, ...values);
    expectNoSecretValueIn(output.text(), ...values);

    // SQS is at-least-once: every item of the rotation delivered again writes and restarts nothing.
    for (const body of bodies.slice(clusters.length)) await queue.send(body, 0);
    const again = await driver.drain(120_000);
    expect(again.flatMap((i) => i.failed)).toEqual([]);
    expect(await statesOf(queued.name)).toEqual(queuedState);
    delete process.env.EKS_SYNC_WORK_QUEUE_URL;
  }, 240_000);
});
