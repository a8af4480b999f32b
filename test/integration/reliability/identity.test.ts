/**
 * Identity on the real stack (moto + API servers): a secret is never taken for another. A CloudTrail PutSecretValue
 * whose caller passed the partial ARN of `.../db-backup` does not touch the `.../db` Secret or restart its consumers;
 * a Secret recording another secret's ARN is refused, never overwritten; two selected secrets deriving one Secret
 * name are refused as a pair on the rotation of one of them.
 */
import { readFileSync } from 'node:fs';
import { DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import type { V1Deployment } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { deployment } from '../../support/workloads.js';
import * as helpers from './helpers.js';

const { output, guard, run } = helpers.reliabilityRun();
let cluster: string;
let namespace: string;
let db: helpers.SeededSecret;
let backup: helpers.SeededSecret;

/** The sample CloudTrail PutSecretValue event, with the caller's `secretId` as given and no ARN in the response. */
function putSecretValueEvent(secretId: string, versionId: string): Record<string, unknown> {
  const event = JSON.parse(readFileSync('events/cloudtrail-put-secret-value.json', 'utf8')) as {
    id: string;
    detail: Record<string, unknown>;
  };
  event.id = crypto.randomUUID();
  event.detail.requestParameters = { secretId, clientRequestToken: versionId };
  // The parser prefers the response's ARN; CloudTrail does not always record one, and then the caller's id decides.
  event.detail.responseElements = null;
  return event;
}

/** The ARN of a secret without its random suffix, as a caller may pass it. */
function partialArn(secret: helpers.SeededSecret): string {
  return secret.arn.slice(0, -7);
}

async function rotationHandler(target: string, source = `{ secret: ${db.name} }`): Promise<helpers.Handler> {
  return helpers.loadFunction(
    'on-rotation',
    `clusters:\n${helpers.kubeconfigClusters([cluster])}\nsyncs:\n  - source: ${source}\n    targets:\n      - { clusters: [${cluster}], namespaces: [${namespace}]${target} }\n`,
  );
}

async function readSecret(name: string) {
  return helpers.adminApis(cluster).core.readNamespacedSecret({ namespace, name });
}

/** A Secret of ours (our label) whose source annotation names `source`, holding an old password. */
async function createOurs(name: string, source: string): Promise<void> {
  await helpers.adminApis(cluster).core.createNamespacedSecret({
    namespace,
    body: {
      metadata: {
        name,
        labels: { 'app.kubernetes.io/managed-by': 'eks-secret-sync' },
        annotations: { 'eks-secret-sync.io/source': source },
      },
      stringData: { password: `${name}-old` },
    },
  });
}

async function secretExists(name: string): Promise<boolean> {
  return (await helpers.findSecret(cluster, namespace, name)) !== undefined;
}

async function template(name: string): Promise<V1Deployment['spec']> {
  return (await helpers.adminApis(cluster).apps.readNamespacedDeployment({ namespace, name })).spec;
}

beforeAll(async () => {
  cluster = helpers.stack().clusters[0] as string;
  namespace = (await helpers.freshNamespace([cluster], { prefix: 'rel-id' })).name;
  const dbValue = { password: `id-db-${run}-K7q` };
  const backupValue = { password: `id-backup-${run}-Zr2` };
  guard.seed('db', dbValue);
  guard.seed('db-backup', backupValue);
  db = await helpers.createSecret(`rel/id-${run}/db`, dbValue);
  backup = await helpers.createSecret(`rel/id-${run}/db-backup`, backupValue);
});

describe('identity on the full ARN', () => {
  it('leaves prod/db alone when a PutSecretValue names the partial ARN of prod/db-backup', async () => {
    // Prepare: prod-db synced from db, and a consumer of it.
    const handler = await rotationHandler(', secret: prod-db');
    const first = await helpers.invoke(handler, helpers.labelEvent(db, db.versionId));
    guard.collect(first.result ?? first.error);
    expect(first.error).toBeUndefined();
    await helpers.adminApis(cluster).apps.createNamespacedDeployment({
      namespace,
      body: deployment('web', 'prod-db', 'envFrom'),
    });
    const before = await readSecret('prod-db');
    const templateBefore = await template('web');
    const versionId = await helpers.putSecret(backup.arn, { password: `id-backup-2-${run}-Mx5` });
    guard.seed('db-backup v2', { password: `id-backup-2-${run}-Mx5` });

    // Act
    const { result, error } = await helpers.invoke(handler, putSecretValueEvent(partialArn(backup), versionId));
    guard.collect(result ?? error);

    // Assess
    expect(error).toBeUndefined();
    const report = result as helpers.Report;
    expect(report.results).toEqual([]);
    expect(report.notes).toContainEqual(
      `secret "${partialArn(backup)}" is not the configured "${db.name}" ("${db.name}" is ${db.arn})`,
    );
    const after = await readSecret('prod-db');
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(after.data).toEqual(before.data);
    expect(after.metadata?.annotations?.['eks-secret-sync.io/source']).toBe(db.arn);
    expect(await template('web')).toEqual(templateBefore);
  });

  it('still syncs prod/db for a PutSecretValue naming its own partial ARN', async () => {
    // Prepare
    const handler = await rotationHandler(', secret: prod-db');
    const value = { password: `id-db-2-${run}-Pw8` };
    guard.seed('db v2', value);
    const versionId = await helpers.putSecret(db.arn, value);

    // Act
    const { result, error } = await helpers.invoke(handler, putSecretValueEvent(partialArn(db), versionId));
    guard.collect(result ?? error);

    // Assess
    expect(error).toBeUndefined();
    expect((result as helpers.Report).results.map((r) => [r.secret, r.action])).toEqual([['prod-db', 'updated']]);
    const written = await readSecret('prod-db');
    expect(Buffer.from(written.data?.password ?? '', 'base64').toString()).toBe(value.password);
  });

  it('refuses to overwrite a Secret that records another secret, naming both', async () => {
    // Prepare: a Secret of ours whose source annotation names db-backup.
    await createOurs('guarded', backup.arn);
    const before = await readSecret('guarded');
    const handler = await rotationHandler(', secret: guarded');

    // Act
    const { error } = await helpers.invoke(handler, helpers.labelEvent(db, db.versionId));
    guard.collect(error);

    // Assess
    const result = error?.report?.results[0];
    expect(result?.error?.code).toBe('SourceMismatch');
    expect(result?.error?.message).toContain(
      `Secret ${namespace}/guarded in cluster "${cluster}" mirrors secret "${backup.arn}", not "${db.arn}"`,
    );
    const after = await readSecret('guarded');
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
  });

  it('takes over a Secret whose source annotation an older version wrote as the name, rewriting it to the ARN', async () => {
    // Prepare
    await createOurs('legacy', db.name);
    const handler = await rotationHandler(', secret: legacy');

    // Act
    const { result, error } = await helpers.invoke(handler, helpers.labelEvent(db, db.versionId));
    guard.collect(result ?? error);

    // Assess
    expect(error).toBeUndefined();
    expect((result as helpers.Report).results.map((r) => r.action)).toEqual(['updated']);
    expect((await readSecret('legacy')).metadata?.annotations?.['eks-secret-sync.io/source']).toBe(db.arn);
  });

  it('refuses two selected secrets deriving one Secret name on the rotation of one of them, writing neither', async () => {
    // Prepare: rel/pair-<run>/app/db and rel/pair-<run>/app_db both derive rel-pair-<run>-app-db.
    const slash = await helpers.createSecret(`rel/pair-${run}/app/db`, { password: `pair-a-${run}-Qe1` });
    const underscore = await helpers.createSecret(`rel/pair-${run}/app_db`, { password: `pair-b-${run}-Qe2` });
    guard.seed('pair', { a: `pair-a-${run}-Qe1`, b: `pair-b-${run}-Qe2` });
    const handler = await rotationHandler('', `{ namePrefix: rel/pair-${run}/ }`);

    // Act
    const { error } = await helpers.invoke(handler, helpers.labelEvent(slash, slash.versionId));
    guard.collect(error);

    // Assess
    const results = error?.report?.results ?? [];
    expect(results.map((r) => [r.secret, r.action, r.error?.code])).toEqual([
      [`rel-pair-${run}-app-db`, 'failed', 'InvalidConfig'],
      [`rel-pair-${run}-app-db`, 'failed', 'InvalidConfig'],
    ]);
    for (const r of results) {
      expect(r.error?.message).toContain(`"${slash.arn}"`);
      expect(r.error?.message).toContain(`"${underscore.arn}"`);
    }
    expect(await secretExists(`rel-pair-${run}-app-db`)).toBe(false);
  });
});

describe('deletion', () => {
  it('a DeleteSecret deletes the Secrets of that secret only, never one that mirrors another', async () => {
    // Prepare: ours (from `gone`) and one recording db's ARN under the Secret name `gone`'s sync writes elsewhere.
    const gone = await helpers.createSecret(`rel/id-${run}/gone`, { password: `id-gone-${run}-Vb3` });
    guard.seed('gone', { password: `id-gone-${run}-Vb3` });
    const handler = await helpers.loadFunction(
      'on-rotation',
      `clusters:\n${helpers.kubeconfigClusters([cluster])}\nsyncs:\n  - source: { secret: ${gone.name} }\n    deletionPolicy: delete\n    targets:\n      - { clusters: [${cluster}], namespaces: [${namespace}], secret: gone-ours }\n      - { clusters: [${cluster}], namespaces: [${namespace}], secret: gone-theirs }\n`,
    );
    const first = await helpers.invoke(handler, helpers.labelEvent(gone, gone.versionId));
    guard.collect(first.result ?? first.error);
    await helpers.adminApis(cluster).core.patchNamespacedSecret({
      namespace,
      name: 'gone-theirs',
      body: [{ op: 'replace', path: '/metadata/annotations/eks-secret-sync.io~1source', value: db.arn }],
    });
    await helpers.secretsManager().send(new DeleteSecretCommand({ SecretId: gone.arn, RecoveryWindowInDays: 7 }));
    const event = JSON.parse(readFileSync('events/cloudtrail-delete-secret-arn-legacy.json', 'utf8')) as {
      id: string;
      detail: Record<string, unknown>;
    };
    event.id = crypto.randomUUID();
    event.detail.requestParameters = { secretId: gone.arn, recoveryWindowInDays: 7 };
    event.detail.responseElements = { name: gone.name, aRN: gone.arn };

    // Act
    const { result, error } = await helpers.invoke(handler, event);
    guard.collect(result ?? error);

    // Assess
    expect(error).toBeUndefined();
    expect((result as helpers.Report).results.map((r) => [r.secret, r.action, r.notes])).toEqual([
      ['gone-ours', 'deleted', undefined],
      ['gone-theirs', 'skipped', [`source deleted; Secret mirrors secret "${db.arn}", kept`]],
    ]);
    expect(await secretExists('gone-ours')).toBe(false);
    expect(await secretExists('gone-theirs')).toBe(true);
  });
});

describe('leakage', () => {
  it('no seeded value appears in any log line, metric, report or error of this file', () => {
    expect(guard.hits(output.text())).toEqual([]);
  });
});
