/**
 * `eks-secret-sync status` on the real stack: the command as a user runs it (a child process on the sync
 * identity's kubeconfig and moto), before and after a rotation that the real on-rotation handler syncs, with stale
 * and restart-pending consumers, a namespace the identity may not read, and no secret value read or printed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfiguredConnector } from '../../lib/clusters/connector.js';
import { parseConfig } from '../../lib/config/index.js';
import { consumerHashAnnotation, RESTART_PENDING_ANNOTATION, VERSION_ANNOTATION } from '../../lib/domain/names.js';
import { createSecretsManagerSource, type SecretsManagerSender } from '../../lib/source/secrets-manager.js';
import { decorate } from '../../lib/sync/calls/decorate.js';
import { SyncEngine } from '../../lib/sync/engine.js';
import type { BindingStatus, ConsumerStatus, StatusReport } from '../../lib/sync/status.js';
import { labelUpdatedEvent } from '../../scripts/label-event.js';
import { expectNoSecretValueIn, seededValues } from '../support/assertions.js';
import { cliChild } from '../support/cli.js';
import { clustersYaml, coldStart, type Handler } from '../support/handlers.js';
import { lambdaContext, recordOutput } from '../support/lambda.js';
import { adminApis, freshNamespace, secretsManager, stack } from '../support/stack.js';
import { deployment } from '../support/workloads.js';

const run = Date.now().toString(36);
const secretId = `it/status-${run}`;
const k8sName = 'app-db';
const dir = mkdtempSync(join(tmpdir(), 'eks-sync-status-'));
/** Every value written to Secrets Manager here; none may appear in any output. */
const { seeded, value } = seededValues(run);
const output = recordOutput();
const cliOutput: string[] = [];
const cli = cliChild(dir, cliOutput);

let clusters: [string, string];
let namespace: string;
let configPath: string;
let configText: string;
let handler: Handler;
let arn: string;
let firstVersion: string;

async function status(...args: string[]): Promise<{ code: number; report: StatusReport; table: string }> {
  const json = await cli(['status', '--json', '--config', configPath, ...args]);
  const table = await cli(['status', '--config', configPath, ...args]);
  expect(table.code).toBe(json.code);
  return { code: json.code, report: JSON.parse(json.stdout) as StatusReport, table: table.stdout };
}

function rowOf(report: StatusReport, cluster: string): BindingStatus {
  const row = report.bindings.find((r) => r.cluster === cluster);
  if (row === undefined) throw new Error(`no row for ${cluster}`);
  return row;
}

/** Asserts one run's exit code and summary, and that every cluster's row matches `row`. */
function expectRows(
  run: { code: number; report: StatusReport },
  code: number,
  summary: StatusReport['summary'],
  row: Partial<BindingStatus>,
): void {
  expect(run.code).toBe(code);
  expect(run.report.summary).toEqual(summary);
  for (const cluster of clusters) expect(rowOf(run.report, cluster)).toMatchObject(row);
}

describe('status on two clusters', () => {
  beforeAll(async () => {
    const env = stack();
    clusters = [env.clusters[0] as string, env.clusters[1] as string];
    namespace = (await freshNamespace(clusters)).name;
    const created = await secretsManager().send(new CreateSecretCommand({ Name: secretId, SecretString: value('v1') }));
    arn = created.ARN as string;
    firstVersion = created.VersionId as string;
    for (const cluster of clusters) {
      await adminApis(cluster).apps.createNamespacedDeployment({ namespace, body: deployment('web', k8sName, 'env') });
    }
    configText = `${clustersYaml(clusters)}syncs:
  - source: { secret: ${secretId} }
    targets:
      - clusters: [${clusters.join(', ')}]
        namespaces: [${namespace}]
        secret: ${k8sName}
`;
    configPath = join(dir, 'eks-secret-sync.yaml');
    writeFileSync(configPath, configText);
    ({ 'on-rotation': handler } = await coldStart(configPath, 'on-rotation'));
    await handler(labelUpdatedEvent({ name: secretId, arn }, firstVersion), lambdaContext('onRotation'));
  });

  afterAll(() => output.stop());

  it('is behind (exit 1) after a rotation and current (exit 0) once the handler synced it', async () => {
    // Prepare
    const put = await secretsManager().send(
      new PutSecretValueCommand({ SecretId: secretId, SecretString: value('v2') }),
    );
    const rotated = put.VersionId as string;

    // Act
    const before = await status();
    await handler(labelUpdatedEvent({ name: secretId, arn }, rotated), lambdaContext('onRotation'));
    const after = await status();

    // Assess
    const web: ConsumerStatus[] = [{ kind: 'Deployment', name: 'web', state: 'current' }];
    expectRows(
      before,
      1,
      { current: 0, behind: 2, unreadable: 0 },
      {
        state: 'behind',
        clusterVersionId: firstVersion,
        sourceVersionId: rotated,
        secretExists: true,
        consumers: web,
      },
    );
    for (const cluster of clusters) {
      expect(before.table).toContain(
        `${cluster}/${namespace}/${k8sName}: at version ${firstVersion}, AWSCURRENT is ${rotated}`,
      );
    }
    expect(before.table).toMatch(
      new RegExp(
        `${clusters[0]}\\s+${namespace}\\s+${k8sName}\\s+behind\\s+${firstVersion.slice(0, 8)}\\s+${rotated.slice(0, 8)}\\s`,
      ),
    );

    expectRows(
      after,
      0,
      { current: 2, behind: 0, unreadable: 0 },
      {
        state: 'current',
        clusterVersionId: rotated,
        sourceVersionId: rotated,
        consumers: web,
      },
    );
    for (const cluster of clusters) {
      const secret = await adminApis(cluster).core.readNamespacedSecret({ namespace, name: k8sName });
      expect(secret.metadata?.annotations?.[VERSION_ANNOTATION]).toBe(rotated);
    }
    expect(after.table).toContain('status: 2 bindings: 2 current, 0 behind, 0 unreadable in ');
  });

  it('shows a consumer with another fingerprint stale and one awaiting a pending restart pending (exit 1)', async () => {
    // Prepare: in the first cluster, web's template carries an older fingerprint; in the second, a new consumer
    // waits on a restart the Secret marks pending.
    const [first, second] = clusters;
    await adminApis(first).apps.patchNamespacedDeployment(
      {
        namespace,
        name: 'web',
        body: {
          spec: { template: { metadata: { annotations: { [consumerHashAnnotation(k8sName)]: 'an-older-one' } } } },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    await adminApis(second).apps.createNamespacedDeployment({
      namespace,
      body: deployment('late', k8sName, 'envFrom'),
    });
    await adminApis(second).core.patchNamespacedSecret(
      { namespace, name: k8sName, body: { metadata: { annotations: { [RESTART_PENDING_ANNOTATION]: 'x/it-pass' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );

    // Act
    const { code, report, table } = await status();

    // Assess
    expect(code).toBe(1);
    expect(rowOf(report, first)).toMatchObject({
      state: 'behind',
      consumers: [{ kind: 'Deployment', name: 'web', state: 'stale' }],
    });
    expect(rowOf(report, second)).toMatchObject({
      state: 'behind',
      consumers: [
        { kind: 'Deployment', name: 'late', state: 'pending' },
        { kind: 'Deployment', name: 'web', state: 'current' },
      ],
    });
    expect(table).toContain(`${first}/${namespace}/${k8sName}: stale consumers: Deployment/web`);
    expect(table).toContain(`${second}/${namespace}/${k8sName}: restart pending: Deployment/late`);
    expect(table).toMatch(
      new RegExp(`${second}\\s+${namespace}\\s+${k8sName}\\s+behind\\s.*1 current, 1 pending$`, 'm'),
    );
  });

  it('reports a namespace the identity may not read unreadable (Forbidden), the other cluster as it is', async () => {
    // Prepare: the second cluster's namespace exists but carries no RoleBinding for the sync identity.
    const closed = (await freshNamespace([clusters[1]], { bound: false })).name;
    const open = (await freshNamespace([clusters[0]])).name;
    const path = join(dir, 'forbidden.yaml');
    writeFileSync(
      path,
      configText.replace(
        `secret: ${k8sName}\n`,
        `secret: ${k8sName}\n      - { clusters: [${clusters[0]}], namespaces: [${open}], secret: other-db }\n` +
          `      - { clusters: [${clusters[1]}], namespaces: [${closed}], secret: other-db }\n`,
      ),
    );

    // Act
    const out = await cli(['status', '--json', '--config', path, '--namespace', open, '--namespace', closed]);

    // Assess
    expect(out.code).toBe(1);
    const report = JSON.parse(out.stdout) as StatusReport;
    expect(rowOf(report, clusters[0])).toMatchObject({ state: 'behind', secretExists: false });
    expect(rowOf(report, clusters[1])).toMatchObject({ state: 'unreadable', error: { code: 'Forbidden' } });
  });

  it('reads no value: DescribeSecret only (never GetSecretValue or BatchGetSecretValue), Secrets as metadata', async () => {
    // Prepare: the CLI's engine, over a client that records every command it sends.
    const config = parseConfig(configText);
    const client = secretsManager();
    const sent: string[] = [];
    const recording: SecretsManagerSender = {
      send: (command: { constructor: { name: string } }) => {
        sent.push(command.constructor.name);
        return client.send(command as never);
      },
    } as unknown as SecretsManagerSender;
    const connector = createConfiguredConnector(config.clusters, config.defaults.timeouts);
    const calls: string[] = [];
    const engine = new SyncEngine({
      config,
      source: createSecretsManagerSource(recording),
      clusters: {
        connect: async (name) =>
          decorate(await connector.connect(name), (context, next) => {
            calls.push(context.call);
            return next();
          }),
      },
    });

    // Act
    const report = await engine.status();

    // Assess
    expect(report.bindings).toHaveLength(2);
    expect(report.sources).toEqual([{ id: secretId, arn, versionId: expect.any(String) }]);
    expect(sent).toEqual(['DescribeSecretCommand']);
    expect(report.bindings.every((r) => r.clusterVersionId !== undefined)).toBe(true);
    expect(calls.filter((c) => c === 'getSecretMetadata')).toHaveLength(2);
    expect(new Set(calls)).toEqual(new Set(['getSecretMetadata', 'listWorkloads']));
  });

  it('never prints a secret value', () => {
    const text = output.text() + cliOutput.join('');
    expect(cliOutput.length).toBeGreaterThan(0);
    expectNoSecretValueIn(text, ...seeded);
  });
});
