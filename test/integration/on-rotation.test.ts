/**
 * The main job end to end: a rotation in the AWS emulator, the real on-rotation handler, two API servers.
 * Runs as the least-privilege `eks-secret-sync` identity bound by deploy/rbac.yaml.
 */
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labelUpdatedEvent } from '../../scripts/label-event.js';
import { clustersYaml, type Handler, onRotationHandler } from '../support/handlers.js';
import { lambdaContext, recordOutput } from '../support/lambda.js';
import * as harness from '../support/stack.js';
import { adminApis, freshNamespace, secretsManager, stack, waitFor } from '../support/stack.js';
import { daemonSet, deployment, statefulSet } from '../support/workloads.js';

const run = Date.now().toString(36);
const secretId = `it/rotation-${run}`;
const k8sName = 'app-db';
const values = { first: `first-pw-${run}-Zq81`, second: `second-pw-${run}-Xr93` };
const output = recordOutput();

let clusters: [string, string];
let namespaces: string[];
let forbidden: string;
let handler: Handler;
let arn: string;

function labelEvent(versionId: string) {
  return labelUpdatedEvent({ name: secretId, arn }, versionId);
}

/** Creates another secret in the emulator; returns the label event of its first version. */
async function newSecretEvent(name: string, secretString: string) {
  const created = await secretsManager().send(new CreateSecretCommand({ Name: name, SecretString: secretString }));
  return labelUpdatedEvent({ name, arn: created.ARN as string }, created.VersionId);
}

async function readSecret(cluster: string, namespace: string): Promise<V1Secret> {
  return adminApis(cluster).core.readNamespacedSecret({ name: k8sName, namespace });
}

async function revisions(cluster: string, namespace: string) {
  const { apps } = adminApis(cluster);
  const [rs, cr] = await Promise.all([
    apps.listNamespacedReplicaSet({ namespace }),
    apps.listNamespacedControllerRevision({ namespace }),
  ]);
  const owned = (items: Array<{ metadata?: { ownerReferences?: Array<{ name: string }> } }>, owner: string) =>
    items.filter((i) => i.metadata?.ownerReferences?.some((o) => o.name === owner)).length;
  return {
    web: owned(rs.items, 'web'),
    idle: owned(rs.items, 'idle'),
    db: owned(cr.items, 'db'),
    agent: owned(cr.items, 'agent'),
  };
}

describe('on-rotation handler on two clusters', () => {
  beforeAll(async () => {
    const env = stack();
    clusters = [env.clusters[0] as string, env.clusters[1] as string];
    namespaces = [(await freshNamespace(clusters)).name, (await freshNamespace(clusters)).name];
    forbidden = (await freshNamespace(clusters, { bound: false })).name;

    const created = await secretsManager().send(
      new CreateSecretCommand({
        Name: secretId,
        SecretString: JSON.stringify({ username: 'app', password: values.first }),
      }),
    );
    arn = created.ARN as string;

    for (const cluster of clusters) {
      const { apps } = adminApis(cluster);
      for (const namespace of namespaces) {
        await apps.createNamespacedDeployment({ namespace, body: deployment('web', k8sName, 'env') });
        await apps.createNamespacedDeployment({ namespace, body: deployment('idle', 'something-else', 'envFrom') });
        await apps.createNamespacedStatefulSet({ namespace, body: statefulSet('db', k8sName, 'volume') });
        await apps.createNamespacedDaemonSet({ namespace, body: daemonSet('agent', k8sName, 'envFrom') });
      }
    }

    handler = await onRotationHandler(`${clustersYaml(clusters)}syncs:
  - source: { secret: ${secretId} }
    targets:
      - clusters: [${clusters.join(', ')}]
        namespaces: [${namespaces.join(', ')}]
        secret: ${k8sName}
`);
    // First delivery creates the mirrors; every consumer gets its hash annotation (and a first restart).
    await handler(labelEvent(crypto.randomUUID()), lambdaContext('onRotation'));
    for (const cluster of clusters) {
      for (const namespace of namespaces) {
        await waitFor(async () => (await revisions(cluster, namespace)).web === 2, 20_000);
      }
    }
  });

  afterAll(() => output.stop());

  it('writes the new value into every mapped Secret and restarts exactly the consumers', async () => {
    const before = new Map<string, Awaited<ReturnType<typeof revisions>>>();
    for (const cluster of clusters)
      for (const ns of namespaces) before.set(`${cluster}/${ns}`, await revisions(cluster, ns));

    const put = await secretsManager().send(
      new PutSecretValueCommand({
        SecretId: secretId,
        SecretString: JSON.stringify({ username: 'app', password: values.second }),
      }),
    );
    const report = (await handler(labelEvent(put.VersionId as string), lambdaContext('onRotation'))) as {
      results: Array<{ action: string; restarted: Array<{ kind: string; name: string }> }>;
    };

    expect(report.results).toHaveLength(4);
    expect(report.results.every((r) => r.action === 'updated')).toBe(true);
    for (const result of report.results) {
      expect(result.restarted.map((w) => `${w.kind}/${w.name}`).sort()).toEqual([
        'DaemonSet/agent',
        'Deployment/web',
        'StatefulSet/db',
      ]);
    }
    for (const cluster of clusters) {
      for (const namespace of namespaces) {
        const secret = await readSecret(cluster, namespace);
        expect(harness.decode(secret, 'password')).toBe(values.second);
        expect(secret.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('eks-secret-sync');
        const was = before.get(`${cluster}/${namespace}`);
        await waitFor(async () => {
          const now = await revisions(cluster, namespace);
          return (
            now.web === (was?.web ?? 0) + 1 && now.db === (was?.db ?? 0) + 1 && now.agent === (was?.agent ?? 0) + 1
          );
        }, 20_000);
        const now = await revisions(cluster, namespace);
        expect(now.idle).toBe(was?.idle);
        const idle = await adminApis(cluster).apps.readNamespacedDeployment({ name: 'idle', namespace });
        expect(idle.metadata?.generation).toBe(1);
      }
    }
  });

  it('changes nothing when the same event is delivered again', async () => {
    const put = await secretsManager().send(
      new PutSecretValueCommand({
        SecretId: secretId,
        SecretString: JSON.stringify({ username: 'app', password: values.second, x: '1' }),
      }),
    );
    const event = labelEvent(put.VersionId as string);
    await handler(event, lambdaContext('onRotation'));
    const snapshot = async () => {
      const out: string[] = [];
      for (const cluster of clusters) {
        for (const namespace of namespaces) {
          const { apps } = adminApis(cluster);
          out.push((await readSecret(cluster, namespace)).metadata?.resourceVersion ?? '');
          out.push(String((await apps.readNamespacedDeployment({ name: 'web', namespace })).metadata?.generation));
          out.push(String((await apps.readNamespacedStatefulSet({ name: 'db', namespace })).metadata?.generation));
          out.push(String((await apps.readNamespacedDaemonSet({ name: 'agent', namespace })).metadata?.generation));
        }
      }
      return out;
    };
    const before = await snapshot();

    const report = (await handler(event, lambdaContext('onRotation'))) as {
      results: Array<{ action: string; restarted: unknown[] }>;
    };

    expect(report.results.map((r) => r.action)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
    expect(report.results.every((r) => r.restarted.length === 0)).toBe(true);
    expect(await snapshot()).toEqual(before);
  });

  it('fails only the binding the identity may not write, names the namespace, and throws after the others', async () => {
    const name = `it/forbidden-${run}`;
    const event = await newSecretEvent(name, '{"token":"t0k3n-forbidden"}');
    const forbiddenHandler = await onRotationHandler(`${clustersYaml([clusters[0]])}syncs:
  - source: { secret: ${name} }
    targets:
      - clusters: [${clusters[0]}]
        namespaces: [${namespaces[0]}, ${forbidden}]
        secret: api-token
`);

    const error = await forbiddenHandler(event, lambdaContext('onRotation')).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toContain(`1 of 2 bindings failed`);
    expect(message).toContain(forbidden);
    expect(message).toMatch(/forbidden/i);
    expect(message).toMatch(/secrets/);
    const written = await adminApis(clusters[0]).core.readNamespacedSecret({
      name: 'api-token',
      namespace: namespaces[0] as string,
    });
    expect(harness.decode(written, 'token')).toBe('t0k3n-forbidden');
  });

  it('refuses an existing Secret it does not manage and leaves it as it was', async () => {
    const namespace = namespaces[1] as string;
    const { core } = adminApis(clusters[0]);
    const foreign = await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'hand-made' }, stringData: { password: 'kept-by-hand' } },
    });
    const name = `it/unmanaged-${run}`;
    const event = await newSecretEvent(name, '{"password":"would-overwrite"}');
    const refusing = await onRotationHandler(`${clustersYaml([clusters[0]])}syncs:
  - source: { secret: ${name} }
    targets:
      - { clusters: [${clusters[0]}], namespaces: [${namespace}], secret: hand-made }
`);

    const error = await refusing(event, lambdaContext('onRotation')).catch((e: unknown) => e);

    expect((error as Error).message).toContain('not managed by eks-secret-sync');
    const after = await core.readNamespacedSecret({ name: 'hand-made', namespace });
    expect(after.metadata?.resourceVersion).toBe(foreign.metadata?.resourceVersion);
    expect(harness.decode(after, 'password')).toBe('kept-by-hand');
  });

  it('never writes a seeded secret value to the logs', () => {
    const text = output.text();
    expect(text.length).toBeGreaterThan(0);
    for (const value of [values.first, values.second, 't0k3n-forbidden', 'would-overwrite']) {
      expect(text).not.toContain(value);
      expect(text).not.toContain(Buffer.from(value).toString('base64'));
    }
  });
});
