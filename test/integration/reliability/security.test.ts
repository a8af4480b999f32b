/**
 * Security: TLS verification is always on (a wrong or missing CA fails with a TLS error naming the cluster, also on
 * the EKS path; a kubeconfig's insecure-skip-tls-verify is refused unless the sync configuration says skipTLSVerify),
 * the least-privilege identity of deploy/rbac.yaml suffices for every way in, and nothing outside the configured
 * namespaces is read or written (every KubeApi call is counted by namespace through a decorator).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteSecretCommand } from '@aws-sdk/client-secrets-manager';
import { AuthenticationV1Api, AuthorizationV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createClusterConnector } from '../../../lib/clusters/connector.js';
import { parseConfig } from '../../../lib/config/index.js';
import type { SyncRequest } from '../../../lib/domain/request.js';
import type { SyncReport } from '../../../lib/sync/types.js';
import { deployment } from '../../support/workloads.js';
import * as helpers from './helpers.js';

const { output, guard, run } = helpers.reliabilityRun();
const engineLines: string[] = [];
let c1: string;
let c2: string;
let namespace: string;
let secret: helpers.SeededSecret;

interface KubeconfigFile {
  clusters: Array<{ name: string; cluster: Record<string, unknown> }>;
}

/** The sync identity's kubeconfig with `change` applied to stack-1's cluster entry, written to a temp file. */
function kubeconfigWith(change: (cluster: Record<string, unknown>) => void): string {
  const file = parse(readFileSync(helpers.stack().syncKubeconfig, 'utf8')) as KubeconfigFile;
  for (const entry of file.clusters) if (entry.name === c1) change(entry.cluster);
  return helpers.tempFile('kubeconfig', stringify(file));
}

/** A CA that signed nothing the stack serves. */
function strangerCa(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eks-sync-ca-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=stranger CA',
      '-keyout',
      join(dir, 'ca.key'),
      '-out',
      join(dir, 'ca.crt'),
    ],
    { stdio: 'ignore' },
  );
  return readFileSync(join(dir, 'ca.crt')).toString('base64');
}

async function secretExists(cluster: string, ns: string, name: string): Promise<boolean> {
  return (await helpers.findSecret(cluster, ns, name)) !== undefined;
}

async function rotateWith(
  kubeconfig: string,
  target: string,
  extra = '',
): Promise<{ report?: helpers.Report; error?: Error }> {
  const handler: helpers.Handler = await helpers.loadFunction(
    'on-rotation',
    `clusters:\n  ${c1}: { kubeconfig: { path: ${kubeconfig}, context: ${c1}${extra} } }\nsyncs:\n  - source: { secret: ${secret.name} }\n    targets:\n      - { clusters: [${c1}], namespaces: [${namespace}], secret: ${target} }\n`,
  );
  const { result, error } = await helpers.invoke(handler, helpers.labelEvent(secret, secret.versionId));
  guard.collect(result ?? null);
  if (error !== undefined) guard.collect(error);
  return {
    ...(result === undefined ? {} : { report: result as helpers.Report }),
    ...(error === undefined ? {} : { error }),
  };
}

beforeAll(async () => {
  const info = helpers.stack();
  [c1, c2] = [info.clusters[0] as string, info.clusters[1] as string];
  namespace = (await helpers.freshNamespace([c1, c2], { prefix: 'rel-sec' })).name;
  const value = { password: `sec-pw-${run}-Wq4`, username: 'app' };
  guard.seed('security secret', value);
  secret = await helpers.createSecret(`rel/sec-${run}`, value);
});

describe('TLS verification', () => {
  it('fails a cluster whose kubeconfig names the wrong CA with a TLS error naming it, and writes nothing', async () => {
    const kubeconfig = kubeconfigWith((cluster) => {
      cluster['certificate-authority-data'] = strangerCa();
    });

    const { error } = await rotateWith(kubeconfig, 'wrong-ca');

    const result = (error as Error & { report?: helpers.Report }).report?.results[0];
    expect(result?.error?.code).toBe('ClusterUnavailable');
    expect(result?.error?.message).toMatch(
      new RegExp(`^cluster "${c1}" TLS verification failed while trying to get secrets in namespace "${namespace}"`),
    );
    expect(await secretExists(c1, namespace, 'wrong-ca')).toBe(false);
  });

  it('fails a cluster whose kubeconfig has no CA (the system trust store does not know the cluster)', async () => {
    const kubeconfig = kubeconfigWith((cluster) => {
      delete cluster['certificate-authority-data'];
    });

    const { error } = await rotateWith(kubeconfig, 'no-ca');

    expect((error as Error & { report?: helpers.Report }).report?.results[0]?.error?.message).toContain(
      `cluster "${c1}" TLS verification failed`,
    );
    expect(await secretExists(c1, namespace, 'no-ca')).toBe(false);
  });

  it('verifies TLS on the EKS path too: a DescribeCluster CA that did not sign the server fails', async () => {
    const config = parseConfig(
      `clusters:\n  prod: { eks: { name: prod-eks, region: us-east-1 } }\nsyncs:\n  - source: { secret: ${secret.name} }\n    targets:\n      - { clusters: [prod], namespaces: [${namespace}], secret: eks-wrong-ca }\n`,
    );
    const stranger = strangerCa();
    const connector = createClusterConnector(config.clusters, {
      ...helpers.describedEksCluster('AKIDTLS', helpers.stack().servers[c1], stranger),
    });
    const api = await connector.connect('prod');

    const error = await api.getSecret(namespace, 'eks-wrong-ca').catch((e: unknown) => e as Error & { code?: string });

    guard.collect(error);
    expect(error).toBeInstanceOf(Error);
    expect((error as { code?: string }).code).toBe('ClusterUnavailable');
    expect((error as Error).message).toContain('cluster "prod" TLS verification failed');
  });

  it('refuses a kubeconfig asking for insecure-skip-tls-verify unless the configuration allows it', async () => {
    const kubeconfig = kubeconfigWith((cluster) => {
      delete cluster['certificate-authority-data'];
      cluster['insecure-skip-tls-verify'] = true;
    });

    const refused = await rotateWith(kubeconfig, 'skip-tls');

    const result = (refused.error as Error & { report?: helpers.Report }).report?.results[0];
    expect(result?.error?.code).toBe('ClusterUnavailable');
    expect(result?.error?.message).toContain(`cluster "${c1}"`);
    expect(result?.error?.message).toContain(`context "${c1}" sets insecure-skip-tls-verify`);
    expect(result?.error?.message).toContain('set skipTLSVerify: true for this cluster in the sync configuration');
    expect(await secretExists(c1, namespace, 'skip-tls')).toBe(false);

    // Explicitly allowed for this local cluster: it works.
    const allowed = await rotateWith(kubeconfig, 'skip-tls', ', skipTLSVerify: true');
    expect(allowed.error).toBeUndefined();
    expect(allowed.report?.results.map((r) => r.action)).toEqual(['created']);
  });
});

describe('least privilege', () => {
  it('runs as the eks-secret-sync identity, which may not list Secrets, touch namespaces or read elsewhere', async () => {
    const kc = helpers.syncKubeConfig(c1);
    const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe('eks-secret-sync');
    const authz = kc.makeApiClient(AuthorizationV1Api);
    const can = async (verb: string, resource: string, ns?: string, group = '') =>
      (
        await authz.createSelfSubjectAccessReview({
          body: {
            spec: { resourceAttributes: { verb, resource, group, ...(ns === undefined ? {} : { namespace: ns }) } },
          },
        })
      ).status?.allowed ?? false;
    const other = (await helpers.freshNamespace([c1], { prefix: 'rel-sec-unbound', bound: false })).name;

    expect(await can('get', 'secrets', namespace)).toBe(true);
    expect(await can('update', 'secrets', namespace)).toBe(true);
    expect(await can('patch', 'deployments', namespace, 'apps')).toBe(true);
    expect(await can('list', 'secrets', namespace)).toBe(false);
    expect(await can('watch', 'secrets', namespace)).toBe(false);
    expect(await can('list', 'secrets')).toBe(false);
    expect(await can('get', 'secrets', other)).toBe(false);
    expect(await can('get', 'namespaces')).toBe(false);
    expect(await can('create', 'deployments', namespace, 'apps')).toBe(false);
    expect(await can('delete', 'deployments', namespace, 'apps')).toBe(false);
    expect(await can('create', 'rolebindings', namespace, 'rbac.authorization.k8s.io')).toBe(false);
  });
});

describe('confinement to the configured namespaces', () => {
  it('reads and writes nothing outside them through backfill, rotation, reconcile and deletion', async () => {
    // Prepare: configured namespaces A and B; C and D hold a same-named Secret and a consumer, bound to the sync
    // identity too, so only the sync's own discipline keeps it out.
    const configured = [
      (await helpers.freshNamespace([c1, c2], { prefix: 'rel-sec-in' })).name,
      (await helpers.freshNamespace([c1, c2], { prefix: 'rel-sec-in' })).name,
    ];
    const outside = [
      (await helpers.freshNamespace([c1, c2], { prefix: 'rel-sec-out' })).name,
      (await helpers.freshNamespace([c1, c2], { prefix: 'rel-sec-out' })).name,
    ];
    for (const cluster of [c1, c2]) {
      const { apps, core } = helpers.adminApis(cluster);
      for (const ns of [...configured, ...outside]) {
        await apps.createNamespacedDeployment({ namespace: ns, body: deployment('web', 'confined', 'envFrom') });
      }
      for (const ns of outside) {
        await core.createNamespacedSecret({
          namespace: ns,
          body: {
            metadata: { name: 'confined', labels: { 'app.kubernetes.io/managed-by': 'eks-secret-sync' } },
            stringData: { password: 'outside-untouched' },
          },
        });
      }
    }
    const snapshot = async () => {
      const out: string[] = [];
      for (const cluster of [c1, c2]) {
        for (const ns of outside) {
          const { core, apps } = helpers.adminApis(cluster);
          out.push(
            (await core.readNamespacedSecret({ namespace: ns, name: 'confined' })).metadata?.resourceVersion ?? '',
          );
          out.push(String((await apps.readNamespacedDeployment({ namespace: ns, name: 'web' })).metadata?.generation));
        }
      }
      return out;
    };
    const before = await snapshot();
    const value = { password: `confined-pw-${run}-Cc2` };
    guard.seed('confined v1', value);
    const source = await helpers.createSecret(`rel/sec-confined-${run}`, value);
    const meter = new helpers.KubeCallMeter();
    const { engine } = helpers.realEngine(
      `clusters:\n${helpers.kubeconfigClusters([c1, c2])}\nsyncs:\n  - source: { secret: ${source.name} }\n    deletionPolicy: delete\n    targets:\n      - { clusters: [${c1}, ${c2}], namespaces: [${configured.join(', ')}], secret: confined }\n`,
      { wrap: (inner) => helpers.meteredConnector(inner, meter), log: helpers.collectingLog(engineLines) },
    );
    const runs: SyncReport[] = [];
    const pass = async (request: SyncRequest) => {
      const report = await engine.run(request);
      guard.collect(report);
      expect(report.summary.failed).toBe(0);
      runs.push(report);
    };

    // Act: every way in.
    await pass({ trigger: 'backfill', dryRun: false, restart: true });
    const v2 = { password: `confined-pw2-${run}-Dd3` };
    guard.seed('confined v2', v2);
    await helpers.putSecret(source.name, v2);
    await pass({ trigger: 'rotation', secrets: [source.arn], dryRun: false, restart: true });
    await pass({ trigger: 'reconcile', dryRun: false, restart: true });
    await pass({ trigger: 'backfill', dryRun: true, restart: true });
    // A DeleteSecret event is acted on only for a secret Secrets Manager confirms deleted.
    await helpers.secretsManager().send(new DeleteSecretCommand({ SecretId: source.arn, RecoveryWindowInDays: 7 }));
    await pass({ trigger: 'rotation', secrets: [source.arn], dryRun: false, restart: true, deleted: true });

    // Assess
    const allowed = new Set([c1, c2].flatMap((c) => configured.map((ns) => `${c}/${ns}`)));
    expect([...meter.namespaces].filter((n) => !allowed.has(n))).toEqual([]);
    expect(meter.namespaces.size).toBe(allowed.size);
    expect(runs.map((r) => r.summary)).toMatchObject([
      { created: 4 },
      { updated: 4 },
      { unchanged: 4 },
      { unchanged: 4 },
      { deleted: 4 },
    ]);
    expect(await snapshot()).toEqual(before);
    for (const cluster of [c1, c2]) {
      for (const ns of configured) {
        expect(await secretExists(cluster, ns, 'confined')).toBe(false);
        // Restarted by the backfill and by the rotation, nothing else.
        await helpers.waitFor(async () => (await helpers.replicaSetsOf(cluster, ns, 'web')).length === 3, 30_000, 200);
      }
    }
  });
});

describe('leakage', () => {
  it('no seeded value appears in any log line, metric, report or error of this file', () => {
    expect(guard.hits([output.text(), ...engineLines].join('\n'))).toEqual([]);
  });
});
