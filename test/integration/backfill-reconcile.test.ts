/**
 * Backfill and reconcile on the local stack: the real handlers (functions/backfill.ts, functions/reconcile.ts) and
 * the CLI as a child process, against real API servers and moto, as the least-privilege sync identity.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { consumerHashAnnotation, kubernetesNameFor } from '../../lib/domain/names.js';
import type { BindingResult, SyncReport } from '../../lib/sync/types.js';
import { expectNoSecretValueIn, seededValues } from '../support/assertions.js';
import { cliChild } from '../support/cli.js';
import { clustersYaml, coldStart, type Handler } from '../support/handlers.js';
import { lambdaContext, recordOutput } from '../support/lambda.js';
import {
  adminApis,
  findSecret,
  freshNamespace,
  replicaSetsOf,
  secretsManager,
  stack,
  waitFor,
} from '../support/stack.js';
import { deployment } from '../support/workloads.js';

const run = Date.now().toString(36);
const prefix = `it/br-${run}`;
const dir = mkdtempSync(join(tmpdir(), 'eks-sync-br-'));
/** Every value seeded here; none may appear in any output. */
const { seeded, value } = seededValues(run);
const output = recordOutput();
const cliOutput: string[] = [];
const cli = cliChild(dir, cliOutput);
let c1: string;
let c2: string;
let configs = 0;

async function createSecret(name: string, tags: Record<string, string> = {}): Promise<string> {
  const created = await secretsManager().send(
    new CreateSecretCommand({
      Name: name,
      SecretString: value(name),
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
  return created.ARN as string;
}

async function rotate(name: string): Promise<void> {
  await secretsManager().send(new PutSecretValueCommand({ SecretId: name, SecretString: value(name) }));
}

function writeConfig(syncs: string, clusters = [c1, c2]): string {
  const path = join(dir, `config-${++configs}.yaml`);
  writeFileSync(path, `${clustersYaml(clusters)}syncs:\n${syncs}`);
  return path;
}

/** Cold-starts both handlers on a configuration file, as Lambda would. */
function handlers(configPath: string): Promise<Record<'backfill' | 'reconcile', Handler<SyncReport>>> {
  return coldStart<'backfill' | 'reconcile', SyncReport>(configPath, 'backfill', 'reconcile');
}

/** A fresh namespace of the first cluster, a source secret, and both handlers syncing it to `targets(namespace)`. */
async function oneSource(label: string, targets: (ns: string) => string) {
  const ns = (await freshNamespace([c1])).name;
  const source = `${prefix}/${label}`;
  await createSecret(source);
  const h = await handlers(writeConfig(`  - source: { secret: ${source} }\n    targets:\n${targets(ns)}`, [c1]));
  return { ns, source, h };
}

const ctx = (name: string) => lambdaContext(name);

function password(secret: V1Secret | undefined): string {
  const json = secret?.data?.password;
  return json === undefined ? '' : Buffer.from(json, 'base64').toString('utf8');
}

async function currentPassword(name: string): Promise<string> {
  const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const out = await secretsManager().send(new GetSecretValueCommand({ SecretId: name }));
  return (JSON.parse(out.SecretString ?? '{}') as { password: string }).password;
}

/** resourceVersion of each `cluster/namespace/secret`, or "absent". */
async function versions(keys: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of keys) {
    const [cluster, namespace, name] = key.split('/') as [string, string, string];
    out[key] = (await findSecret(cluster, namespace, name))?.metadata?.resourceVersion ?? 'absent';
  }
  return out;
}

const where = (r: BindingResult) => `${r.cluster}/${r.namespace}/${r.secret}`;

/**
 * Two sources (a-db, b-db) mirrored into two namespaces of two clusters, all created by a first backfill, then both
 * rotated in Secrets Manager: every binding is now behind, so anything a pass writes shows in resourceVersions.
 */
async function staleFleet() {
  const [nsA, nsB] = [(await freshNamespace([c1, c2])).name, (await freshNamespace([c1, c2])).name];
  const a = `${prefix}/fleet-${++configs}/a`;
  const b = `${prefix}/fleet-${configs}/b`;
  await createSecret(a);
  await createSecret(b);
  const target = (secret: string) =>
    `    targets:\n      - { clusters: [${c1}, ${c2}], namespaces: [${nsA}, ${nsB}], secret: ${secret} }\n`;
  const config = writeConfig(
    `  - source: { secret: ${a} }\n${target('a-db')}  - source: { secret: ${b} }\n${target('b-db')}`,
  );
  const h = await handlers(config);
  const first = await h.backfill({}, ctx('backfill'));
  expect(first.summary.created).toBe(8);
  await rotate(a);
  await rotate(b);
  const keys = [c1, c2].flatMap((c) => [nsA, nsB].flatMap((ns) => [`${c}/${ns}/a-db`, `${c}/${ns}/b-db`]));
  return { nsA, nsB, a, b, config, h, keys };
}

beforeAll(() => {
  const env = stack();
  [c1, c2] = [env.clusters[0] as string, env.clusters[1] as string];
});

afterAll(() => {
  output.stop();
  vi.restoreAllMocks();
});

describe('reconcile repairs drift', () => {
  it('restores a hand-edited Secret and recreates a deleted one, then leaves both alone', async () => {
    // Prepare
    const { ns, source, h } = await oneSource(
      'drift',
      (ns) =>
        `      - { clusters: [${c1}], namespaces: [${ns}], secret: edited }\n` +
        `      - { clusters: [${c1}], namespaces: [${ns}], secret: removed }\n`,
    );
    expect((await h.backfill({}, ctx('backfill'))).summary.created).toBe(2);
    const { core } = adminApis(c1);
    const edited = (await findSecret(c1, ns, 'edited')) as V1Secret;
    edited.data = { ...edited.data, password: Buffer.from('typed-by-hand').toString('base64') };
    await core.replaceNamespacedSecret({ name: 'edited', namespace: ns, body: edited });
    await core.deleteNamespacedSecret({ name: 'removed', namespace: ns });

    // Act
    const report = await h.reconcile({}, ctx('reconcile'));

    // Assess
    const byName = new Map(report.results.map((r) => [r.secret, r]));
    expect(byName.get('edited')).toMatchObject({ action: 'updated', drift: true, changedKeys: ['password'] });
    expect(byName.get('removed')).toMatchObject({ action: 'created', drift: true });
    const expected = await currentPassword(source);
    expect(password(await findSecret(c1, ns, 'edited'))).toBe(expected);
    expect(password(await findSecret(c1, ns, 'removed'))).toBe(expected);

    const before = await versions([`${c1}/${ns}/edited`, `${c1}/${ns}/removed`]);
    const again = await h.reconcile({}, ctx('reconcile'));
    expect(again.results.map((r) => [r.action, r.drift ?? false])).toEqual([
      ['unchanged', false],
      ['unchanged', false],
    ]);
    expect(await versions(Object.keys(before))).toEqual(before);
  });

  it('restarts a stale consumer exactly once and leaves a consumer without our annotation alone', async () => {
    // Prepare
    const { ns, h } = await oneSource(
      'stale',
      (ns) => `      - { clusters: [${c1}], namespaces: [${ns}], secret: app-db }\n`,
    );
    await h.backfill({}, ctx('backfill'));
    const annotation = consumerHashAnnotation('app-db');
    const stale = deployment('stale', 'app-db', 'envFrom');
    if (stale.spec?.template.metadata) stale.spec.template.metadata.annotations = { [annotation]: 'an-old-hash' };
    const { apps } = adminApis(c1);
    await apps.createNamespacedDeployment({ namespace: ns, body: stale });
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('fresh', 'app-db', 'env') });
    await waitFor(async () => (await replicaSetsOf(c1, ns, 'stale')).length === 1, 20_000);
    await waitFor(async () => (await replicaSetsOf(c1, ns, 'fresh')).length === 1, 20_000);

    // Act
    const report = await h.reconcile({}, ctx('reconcile'));

    // Assess
    const [result] = report.results;
    expect(result).toMatchObject({
      action: 'unchanged',
      drift: true,
      restarted: [{ kind: 'Deployment', name: 'stale' }],
    });
    await waitFor(async () => (await replicaSetsOf(c1, ns, 'stale')).length === 2, 20_000);
    const patched = await apps.readNamespacedDeployment({ name: 'stale', namespace: ns });
    expect(patched.spec?.template.metadata?.annotations?.[annotation]).toBe(result?.hash);
    const generation = patched.metadata?.generation;

    const again = await h.reconcile({}, ctx('reconcile'));
    expect(again.results[0]).toMatchObject({ action: 'unchanged', restarted: [] });
    expect(again.results[0]?.drift).toBeFalsy();
    await new Promise((done) => setTimeout(done, 1_500));
    expect(await replicaSetsOf(c1, ns, 'stale')).toHaveLength(2);
    expect((await apps.readNamespacedDeployment({ name: 'stale', namespace: ns })).metadata?.generation).toBe(
      generation,
    );
    expect(await replicaSetsOf(c1, ns, 'fresh')).toHaveLength(1);
    expect((await apps.readNamespacedDeployment({ name: 'fresh', namespace: ns })).metadata?.generation).toBe(1);
  });
});

describe('backfill filters and dry runs', () => {
  it('backfill with secret, cluster and namespace filters writes only that binding', async () => {
    // Prepare
    const { nsA, a, h, keys } = await staleFleet();
    const before = await versions(keys);

    // Act
    const report = await h.backfill({ secrets: [a], clusters: [c1], namespaces: [nsA] }, ctx('backfill'));

    // Assess
    expect(report.results.map((r) => [where(r), r.action, r.changedKeys])).toEqual([
      [`${c1}/${nsA}/a-db`, 'updated', ['password']],
    ]);
    const after = await versions(keys);
    const changed = keys.filter((k) => after[k] !== before[k]);
    expect(changed).toEqual([`${c1}/${nsA}/a-db`]);
    expect(password(await findSecret(c1, nsA, 'a-db'))).toBe(await currentPassword(a));
    expect(password(await findSecret(c2, nsA, 'a-db'))).not.toBe(await currentPassword(a));
  });

  it('a dry-run backfill and a dry-run reconcile report the changes and write nothing', async () => {
    // Prepare
    const { h, keys } = await staleFleet();
    const before = await versions(keys);

    // Act
    const backfill = await h.backfill({ dryRun: true }, ctx('backfill'));
    const reconcile = await h.reconcile({ dryRun: true }, ctx('reconcile'));

    // Assess
    for (const report of [backfill, reconcile]) {
      expect(report.dryRun).toBe(true);
      expect(report.results).toHaveLength(8);
      expect(report.results.every((r) => r.action === 'updated' && r.dryRun === true)).toBe(true);
      expect(report.results.every((r) => r.changedKeys?.join() === 'password')).toBe(true);
    }
    expect(await versions(keys)).toEqual(before);
  });
});

describe('reconcile resolves selectors and batches reads', () => {
  it('reads 25 secrets of a prefix selector with 2 BatchGetSecretValue calls', async () => {
    // Prepare
    const ns = (await freshNamespace([c1])).name;
    const many = `${prefix}/many/`;
    const names = Array.from({ length: 25 }, (_, i) => `${many}s${String(i).padStart(2, '0')}`);
    await Promise.all(names.map((n) => createSecret(n)));
    const h = await handlers(
      writeConfig(
        `  - source: { namePrefix: ${many} }\n    targets:\n      - { clusters: [${c1}], namespaces: [${ns}] }\n`,
        [c1],
      ),
    );
    const send = vi.spyOn(SecretsManagerClient.prototype, 'send');

    // Act
    const report = await h.reconcile({}, ctx('reconcile'));
    const commands = send.mock.calls.map(([command]) => (command as object).constructor.name);
    send.mockRestore();

    // Assess
    const count = (name: string) => commands.filter((c) => c === name).length;
    expect(report.summary.created).toBe(25);
    expect(report.results.map((r) => r.secret).sort()).toEqual(names.map(kubernetesNameFor).sort());
    expect(count('BatchGetSecretValueCommand')).toBe(2);
    expect(count('GetSecretValueCommand')).toBe(0);
    expect(count('ListSecretsCommand')).toBeGreaterThanOrEqual(1);
    console.info('Secrets Manager calls of a reconcile over 25 secrets:', {
      ...Object.fromEntries([...new Set(commands)].map((c) => [c, count(c)])),
    });
    for (const name of names.slice(0, 3)) {
      expect(password(await findSecret(c1, ns, kubernetesNameFor(name)))).toBe(await currentPassword(name));
    }
  });

  it('selectors by prefix, by tags and by both pick exactly their secrets', async () => {
    // Prepare
    const [nsBoth, nsTags, nsPrefix] = [
      (await freshNamespace([c1])).name,
      (await freshNamespace([c1])).name,
      (await freshNamespace([c1])).name,
    ];
    const sel = `${prefix}/sel/`;
    await createSecret(`${sel}pay-api`, { team: 'pay', suite: run });
    await createSecret(`${sel}web-api`, { team: 'web', suite: run });
    await createSecret(`${sel}untagged`);
    await createSecret(`${prefix}/other/pay-job`, { team: 'pay', suite: run });
    const h = await handlers(
      writeConfig(
        [
          `  - source: { namePrefix: ${sel}, tags: { team: pay } }`,
          `    targets: [{ clusters: [${c1}], namespaces: [${nsBoth}] }]`,
          `  - source: { tags: { team: pay, suite: ${run} } }`,
          `    targets: [{ clusters: [${c1}], namespaces: [${nsTags}] }]`,
          `  - source: { namePrefix: ${sel} }`,
          `    targets: [{ clusters: [${c1}], namespaces: [${nsPrefix}] }]`,
          '',
        ].join('\n'),
        [c1],
      ),
    );
    const k = (name: string) => kubernetesNameFor(`${prefix}/${name}`);

    // Act
    const report = await h.reconcile({}, ctx('reconcile'));

    // Assess
    expect(report.results.map((r) => `${r.namespace}/${r.secret}:${r.action}`).sort()).toEqual(
      [
        `${nsBoth}/${k('sel/pay-api')}:created`,
        `${nsTags}/${k('sel/pay-api')}:created`,
        `${nsTags}/${k('other/pay-job')}:created`,
        `${nsPrefix}/${k('sel/pay-api')}:created`,
        `${nsPrefix}/${k('sel/web-api')}:created`,
        `${nsPrefix}/${k('sel/untagged')}:created`,
      ].sort(),
    );
    expect(await findSecret(c1, nsBoth, k('sel/web-api'))).toBeUndefined();

    // A backfill of one secret matches it against the same selectors (tags by DescribeSecret).
    const one = await h.backfill({ secrets: [`${sel}web-api`] }, ctx('backfill'));
    expect(one.results.map((r) => `${r.namespace}/${r.secret}:${r.action}`)).toEqual([
      `${nsPrefix}/${k('sel/web-api')}:unchanged`,
    ]);
  });
});

describe('the CLI against the stack', () => {
  it('plan --json reports the pending changes as the handlers do, writes nothing, and exits 0', async () => {
    // Prepare
    const { config, keys } = await staleFleet();
    const before = await versions(keys);

    // Act
    const plan = await cli(['plan', '--json', '--config', config]);

    // Assess
    expect(plan.code).toBe(0);
    const report = JSON.parse(plan.stdout) as SyncReport;
    expect(report).toMatchObject({ trigger: 'reconcile', dryRun: true });
    expect(report.summary.updated).toBe(8);
    // stdout is the whole answer with --json: no progress lines on stderr.
    expect(plan.stderr).toBe('');
    expect(await versions(keys)).toEqual(before);
  });

  it('backfill with filters writes only what was asked, prints the table and exits 0', async () => {
    // Prepare
    const { b, config, keys } = await staleFleet();
    const before = await versions(keys);

    // Act
    const out = await cli(['backfill', '--secret', b, '--cluster', c2, '--config', config]);

    // Assess
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^CLUSTER\s+NAMESPACE\s+SECRET\s+ACTION\s+CHANGED KEYS\s+RESTARTED$/m);
    expect(out.stdout).toMatch(new RegExp(`^${c2}\\s+\\S+\\s+b-db\\s+updated\\s+password\\s+-$`, 'm'));
    expect(out.stdout).toContain('backfill: 2 bindings: 2 updated');
    // Progress in the human mode: short lines, the cluster counted once it is done, no JSON.
    expect(out.stderr).toMatch(new RegExp(`^1/1 clusters done \\(${c2}\\)$`, 'm'));
    expect(out.stderr).not.toMatch(/[{}]/);
    const after = await versions(keys);
    expect(keys.filter((k) => after[k] !== before[k]).sort()).toEqual(
      keys.filter((k) => k.startsWith(`${c2}/`) && k.endsWith('/b-db')).sort(),
    );
  });

  it('exits 1 when a binding fails and 2 on a filter naming an unknown cluster', async () => {
    // Prepare
    const ns = (await freshNamespace([c1])).name;
    const denied = (await freshNamespace([c1], { bound: false })).name;
    const source = `${prefix}/cli-denied`;
    await createSecret(source);
    const config = writeConfig(
      `  - source: { secret: ${source} }\n    targets:\n      - { clusters: [${c1}], namespaces: [${ns}, ${denied}], secret: app-db }\n`,
      [c1],
    );

    // Act
    const failed = await cli(['backfill', '--config', config]);
    const unknown = await cli(['backfill', '--cluster', 'nope', '--config', config]);

    // Assess
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(new RegExp(`^${c1}\\s+${ns}\\s+app-db\\s+created`, 'm'));
    expect(failed.stdout).toMatch(new RegExp(`${c1}/${denied}/app-db: Forbidden: `));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown cluster "nope"');
  });
});

describe('output', () => {
  it('never contains a seeded secret value, from the handlers or the CLI', () => {
    const text = output.text() + cliOutput.join('');
    expect(text.length).toBeGreaterThan(0);
    expectNoSecretValueIn(text, ...seeded);
  });
});
