import { mkdtempSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DescribeClusterCommand, DescribeClusterCommandOutput } from '@aws-sdk/client-eks';
import type { KubeConfig } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { createClusterConnector, createConfiguredConnector } from '../../lib/clusters/connector.js';
import { type AssumeRoleFactory, createEksAccess, type EksClientFactory } from '../../lib/clusters/eks.js';
import { createEksToken } from '../../lib/clusters/eks-token.js';
import { PooledKubeConfig } from '../../lib/clusters/pooled-kubeconfig.js';
import type { AwsCredentials, ClusterSpecs } from '../../lib/clusters/types.js';
import { parseConfig } from '../../lib/config/index.js';
import { ClusterConnectionError, SyncError } from '../../lib/errors.js';
import type { KubeApi } from '../../lib/sync/ports/kube.js';
import { DEFAULT_KUBE_TIMEOUTS, type KubeTimeouts } from '../../lib/timeouts.js';
import { rejection } from '../support/assertions.js';

const START = new Date('2025-03-04T05:00:00.000Z');
const BASE: AwsCredentials = { accessKeyId: 'AKIDBASE', secretAccessKey: 'base-secret' };
const ROLE: AwsCredentials = {
  accessKeyId: 'ASIAROLE',
  secretAccessKey: 'role-secret',
  sessionToken: 'role-session-token',
  expiration: new Date(START.getTime() + 6 * 60 * 60_000),
};
const CA = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');

type ClusterInfo = NonNullable<DescribeClusterCommandOutput['cluster']>;

/** In-memory EKS, STS and clock; records every call so tests can count them. */
function harness(clusters: Record<string, ClusterInfo | Error>) {
  let now = START.getTime();
  const describeCalls: Array<{ name: string; region: string; accessKeyId: string }> = [];
  const assumeRoleCalls: Array<{ roleArn: string; externalId?: string; region: string }> = [];
  const tokenCalls: string[] = [];
  const kubeConfigs = new Map<string, KubeConfig>();
  const kubeTimeouts = new Map<string, KubeTimeouts>();
  /** What the next getSecret of a cluster's API handle throws. */
  const kubeFailures = new Map<string, Error>();
  let assumeRoleError: Error | undefined;

  const eksClient: EksClientFactory = ({ region, credentials }) => ({
    async send(command: DescribeClusterCommand) {
      const name = command.input.name ?? '';
      describeCalls.push({ name, region, accessKeyId: (await credentials()).accessKeyId });
      const cluster = clusters[name];
      if (cluster === undefined) {
        throw Object.assign(new Error(`No cluster found for name: ${name}.`), { name: 'ResourceNotFoundException' });
      }
      if (cluster instanceof Error) throw cluster;
      return { cluster };
    },
  });
  const assumeRole: AssumeRoleFactory = (params) => async () => {
    assumeRoleCalls.push({
      roleArn: params.roleArn,
      region: params.region,
      ...(params.externalId === undefined ? {} : { externalId: params.externalId }),
    });
    if (assumeRoleError) throw assumeRoleError;
    return ROLE;
  };

  const connector = (specs: ClusterSpecs, homeDir?: string, timeouts?: KubeTimeouts) =>
    createClusterConnector(specs, {
      credentials: async () => BASE,
      eksClient,
      assumeRole,
      now: () => new Date(now),
      createToken: (input) => {
        tokenCalls.push(input.clusterName);
        return createEksToken(input);
      },
      createKubeApi: (cluster, kc, timeouts) => {
        kubeConfigs.set(cluster, kc);
        kubeTimeouts.set(cluster, timeouts);
        return {
          cluster,
          getSecret: async () => {
            const failure = kubeFailures.get(cluster);
            kubeFailures.delete(cluster);
            if (failure !== undefined) throw failure;
            return undefined;
          },
        } as Partial<KubeApi> as KubeApi;
      },
      ...(timeouts === undefined ? {} : { timeouts }),
      ...(homeDir === undefined ? {} : { homeDir }),
    });

  return {
    connector,
    describeCalls,
    assumeRoleCalls,
    tokenCalls,
    kubeConfigs,
    kubeTimeouts,
    kubeFailures,
    advance(ms: number) {
      now += ms;
    },
    failAssumeRole(error: Error) {
      assumeRoleError = error;
    },
  };
}

function activeCluster(name: string): ClusterInfo {
  return {
    name,
    status: 'ACTIVE',
    endpoint: `https://${name}.gr7.eu-west-1.eks.amazonaws.com`,
    certificateAuthority: { data: CA },
  };
}

/** The bearer token client-node would send with the next request. */
async function bearer(kc: KubeConfig | undefined): Promise<string> {
  if (kc === undefined) throw new Error('no KubeConfig was built');
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const header = (opts.headers as Record<string, string> | undefined)?.Authorization ?? '';
  expect(header).toMatch(/^Bearer k8s-aws-v1\./);
  return header.slice('Bearer '.length);
}

function tokenQuery(token: string): URLSearchParams {
  return new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf8')).searchParams;
}

describe('createClusterConnector (EKS)', () => {
  const specs: ClusterSpecs = {
    'prod-eu': { eks: { name: 'prod-eu', region: 'eu-west-1' } },
    'prod-us': {
      eks: {
        name: 'prod-us-1',
        region: 'us-east-1',
        roleArn: 'arn:aws:iam::123456789012:role/sync',
        externalId: 'x-1',
      },
    },
  };

  it('builds a KubeConfig from DescribeCluster with TLS verification on and a per-cluster user', async () => {
    // Prepare
    const h = harness({ 'prod-eu': activeCluster('prod-eu'), 'prod-us-1': activeCluster('prod-us-1') });
    const connector = h.connector(specs);

    // Act
    const api = await connector.connect('prod-eu');
    await connector.connect('prod-us');

    // Assess
    expect(api.cluster).toBe('prod-eu');
    const kc = h.kubeConfigs.get('prod-eu');
    expect(kc?.getCurrentCluster()).toMatchObject({
      server: 'https://prod-eu.gr7.eu-west-1.eks.amazonaws.com',
      caData: CA,
      skipTLSVerify: false,
    });
    const users = [h.kubeConfigs.get('prod-eu'), h.kubeConfigs.get('prod-us')].map((c) => c?.getCurrentUser()?.name);
    expect(new Set(users).size).toBe(2);
  });

  it('calls DescribeCluster once per cluster and reuses the API handle', async () => {
    // Prepare
    const h = harness({ 'prod-eu': activeCluster('prod-eu') });
    const connector = h.connector(specs);

    // Act
    const [first, second] = await Promise.all([connector.connect('prod-eu'), connector.connect('prod-eu')]);
    h.advance(60 * 60_000);
    const later = await connector.connect('prod-eu');

    // Assess
    expect(h.describeCalls).toEqual([{ name: 'prod-eu', region: 'eu-west-1', accessKeyId: 'AKIDBASE' }]);
    expect(second).toBe(first);
    expect(later).toBe(first);
  });

  it('assumes the role only for clusters that configure one, with its external id', async () => {
    // Prepare
    const h = harness({ 'prod-eu': activeCluster('prod-eu'), 'prod-us-1': activeCluster('prod-us-1') });
    const connector = h.connector(specs);

    // Act
    await connector.connect('prod-eu');
    const withoutRole = h.assumeRoleCalls.length;
    await connector.connect('prod-us');

    // Assess
    expect(withoutRole).toBe(0);
    expect(h.assumeRoleCalls).toEqual([
      { roleArn: 'arn:aws:iam::123456789012:role/sync', externalId: 'x-1', region: 'us-east-1' },
    ]);
    expect(h.describeCalls).toContainEqual({ name: 'prod-us-1', region: 'us-east-1', accessKeyId: 'ASIAROLE' });
    const query = tokenQuery(await bearer(h.kubeConfigs.get('prod-us')));
    expect(query.get('X-Amz-Credential')).toMatch(/^ASIAROLE\//);
    expect(query.get('X-Amz-Security-Token')).toBe('role-session-token');
    const baseQuery = tokenQuery(await bearer(h.kubeConfigs.get('prod-eu')));
    expect(baseQuery.get('X-Amz-Credential')).toMatch(/^AKIDBASE\//);
  });

  it('reuses the token for 14 minutes, then signs a new one for the same handle', async () => {
    // Prepare
    const h = harness({ 'prod-eu': activeCluster('prod-eu') });
    const connector = h.connector(specs);
    await connector.connect('prod-eu');
    const kc = h.kubeConfigs.get('prod-eu');
    const first = await bearer(kc);

    // Act
    h.advance(14 * 60_000 - 1);
    const beforeExpiry = await bearer(kc);
    h.advance(1);
    const afterExpiry = await bearer(kc);

    // Assess
    expect(beforeExpiry).toBe(first);
    expect(afterExpiry).not.toBe(first);
    expect(tokenQuery(afterExpiry).get('X-Amz-Date')).toBe('20250304T051400Z');
    expect(h.tokenCalls).toEqual(['prod-eu', 'prod-eu']);
    expect(h.describeCalls).toHaveLength(1);
  });

  it('keeps a handle working past token expiry in a long run', async () => {
    // Prepare
    const h = harness({ 'prod-eu': activeCluster('prod-eu') });
    const connector = h.connector(specs);
    const api = await connector.connect('prod-eu');
    const tokens = new Set<string>();

    // Act: a run holding the same handle for an hour.
    for (let minute = 0; minute <= 60; minute += 5) {
      tokens.add(await bearer(h.kubeConfigs.get('prod-eu')));
      h.advance(5 * 60_000);
    }

    // Assess: 61 minutes need 5 tokens at 14-minute lifetimes (0, 15, 30, 45, 60).
    expect(tokens.size).toBe(5);
    expect(await connector.connect('prod-eu')).toBe(api);
  });

  it('signs a new token a minute before the signing credentials expire, not at the last millisecond', async () => {
    // Prepare: credentials that expire 10 minutes from now, before the token's own 14 minutes.
    let now = START.getTime();
    const expiration = new Date(START.getTime() + 10 * 60_000);
    const signed: Date[] = [];
    const eks = createEksAccess({
      credentials: async () => ({ ...BASE, sessionToken: 'short-session', expiration }),
      now: () => new Date(now),
      createToken: (input) => {
        signed.push(input.now ?? new Date(0));
        return createEksToken(input);
      },
    });
    const ref = { name: 'prod-eu', region: 'eu-west-1' };
    const first = await eks.token(ref);

    // Act
    now = expiration.getTime() - 60_000 - 1;
    const justBefore = await eks.token(ref);
    now = expiration.getTime() - 60_000;
    const atMargin = await eks.token(ref);

    // Assess
    expect(first.expiresAt).toEqual(new Date(expiration.getTime() - 60_000));
    expect(justBefore.token).toBe(first.token);
    expect(atMargin.token).not.toBe(first.token);
    expect(signed).toHaveLength(2);
  });

  it('looks the cluster up again after a DNS, connect or TLS failure of a request', async () => {
    // Prepare
    const h = harness({ 'prod-eu': activeCluster('prod-eu') });
    const connector = h.connector(specs);
    const api = await connector.connect('prod-eu');

    for (const failure of ['dns', 'connect', 'tls'] as const) {
      // Act
      h.kubeFailures.set(
        'prod-eu',
        new ClusterConnectionError('ClusterUnavailable', failure, `cluster "prod-eu" unreachable (${failure})`),
      );
      const error = await rejection((await connector.connect('prod-eu')).getSecret('app', 'db'));
      const again = await connector.connect('prod-eu');

      // Assess: the error passes through unchanged, and the next connect builds a new handle.
      expect(error.message).toBe(`cluster "prod-eu" unreachable (${failure})`);
      expect(again).not.toBe(api);
    }
    expect(h.describeCalls).toHaveLength(4);
  });

  it('keeps the cluster lookup after a timeout waiting for an answer, or an HTTP error', async () => {
    // Prepare
    const h = harness({ 'prod-eu': activeCluster('prod-eu') });
    const connector = h.connector(specs);
    const api = await connector.connect('prod-eu');

    // Act
    h.kubeFailures.set(
      'prod-eu',
      new ClusterConnectionError('Timeout', 'response', 'cluster "prod-eu" timed out: no response headers'),
    );
    await rejection(api.getSecret('app', 'db'));
    h.kubeFailures.set('prod-eu', new SyncError('KubernetesError', 'HTTP 503', { retryable: true, status: 503 }));
    await rejection(api.getSecret('app', 'db'));

    // Assess
    expect(await connector.connect('prod-eu')).toBe(api);
    expect(h.describeCalls).toHaveLength(1);
  });

  it("applies the connector's timeouts, and a cluster's own ones over them", async () => {
    // Prepare
    const h = harness({ 'prod-eu': activeCluster('prod-eu'), 'prod-us-1': activeCluster('prod-us-1') });
    const defaults: KubeTimeouts = { connectMs: 2000, headersMs: 3000, bodyMs: 4000 };
    const connector = h.connector(
      { ...specs, 'prod-us': { ...specs['prod-us'], timeouts: { headersMs: 9000 } } as ClusterSpecs[string] },
      undefined,
      defaults,
    );

    // Act
    await connector.connect('prod-eu');
    await connector.connect('prod-us');

    // Assess
    expect(h.kubeTimeouts.get('prod-eu')).toEqual(defaults);
    const plain = harness({ 'prod-eu': activeCluster('prod-eu') });
    await plain.connector(specs).connect('prod-eu');
    expect(plain.kubeTimeouts.get('prod-eu')).toEqual(DEFAULT_KUBE_TIMEOUTS);
    expect(h.kubeTimeouts.get('prod-us')).toEqual({ connectMs: 2000, headersMs: 9000, bodyMs: 4000 });
    const kc = h.kubeConfigs.get('prod-us');
    expect(kc).toBeInstanceOf(PooledKubeConfig);
    expect((kc as PooledKubeConfig).timeouts).toEqual({ connectMs: 2000, headersMs: 9000, bodyMs: 4000 });
  });

  it('rejects an unknown cluster with ClusterUnknown naming it', async () => {
    // Prepare
    const h = harness({});
    const connector = h.connector(specs);

    // Act
    const error = await rejection(connector.connect('staging'));

    // Assess
    expect(error.code).toBe('ClusterUnknown');
    expect(error.message).toContain('"staging"');
    expect(error.message).toContain('prod-eu, prod-us');
    expect(await rejection(connector.connect('toString'))).toMatchObject({ code: 'ClusterUnknown' });
  });

  it('rejects a cluster that is not ACTIVE, and connects once it is', async () => {
    // Prepare
    const clusters: Record<string, ClusterInfo> = { 'prod-eu': { name: 'prod-eu', status: 'CREATING' } };
    const h = harness(clusters);
    const connector = h.connector(specs);

    // Act
    const error = await rejection(connector.connect('prod-eu'));
    clusters['prod-eu'] = activeCluster('prod-eu');
    const api = await connector.connect('prod-eu');

    // Assess
    expect(error.code).toBe('ClusterUnavailable');
    expect(error.message).toBe('cluster "prod-eu": EKS cluster "prod-eu" in eu-west-1 is CREATING, not ACTIVE');
    expect(error.retryable).toBe(true);
    expect(api.cluster).toBe('prod-eu');
    expect(h.describeCalls).toHaveLength(2);
  });

  it('reports a failed DescribeCluster as ClusterUnavailable with the AWS reason', async () => {
    // Prepare
    const denied = Object.assign(new Error('User: arn:aws:sts::1:assumed-role/fn is not authorized'), {
      name: 'AccessDeniedException',
      $fault: 'client',
    });
    const h = harness({ 'prod-eu': denied });
    const connector = h.connector(specs);

    // Act
    const error = await rejection(connector.connect('prod-eu'));

    // Assess
    expect(error.code).toBe('ClusterUnavailable');
    expect(error.message).toMatch(/^cluster "prod-eu": DescribeCluster "prod-eu" in eu-west-1 failed: AccessDenied/);
    expect(error.retryable).toBe(false);
    expect(error.cause).toBe(denied);
  });

  it('reports a denied AssumeRole as ClusterUnavailable naming the role', async () => {
    // Prepare
    const h = harness({ 'prod-us-1': activeCluster('prod-us-1') });
    h.failAssumeRole(Object.assign(new Error('not authorized to perform: sts:AssumeRole'), { name: 'AccessDenied' }));
    const connector = h.connector(specs);

    // Act
    const error = await rejection(connector.connect('prod-us'));

    // Assess
    expect(error.code).toBe('ClusterUnavailable');
    expect(error.message).toContain('cluster "prod-us": cannot assume role arn:aws:iam::123456789012:role/sync');
    expect(h.describeCalls).toHaveLength(0);
  });
});

describe('createClusterConnector (kubeconfig)', () => {
  function kubeconfigFile(extra: { insecure?: boolean } = {}): { home: string; file: string } {
    const home = mkdtempSync(join(tmpdir(), 'eks-secret-sync-kc-'));
    const file = join(home, 'config');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: dev',
        '  cluster:',
        '    server: https://127.0.0.1:16443',
        `    certificate-authority-data: ${CA}`,
        ...(extra.insecure ? ['    insecure-skip-tls-verify: true'] : []),
        'users:',
        '- name: dev-user',
        '  user:',
        '    token: not-a-real-token',
        'contexts:',
        '- name: kind-dev',
        '  context: { cluster: dev, user: dev-user }',
        '- name: dangling',
        '  context: { cluster: nowhere, user: dev-user }',
        'current-context: dangling',
      ].join('\n'),
    );
    return { home, file };
  }

  it('loads the named context, expanding ~ to the home directory', async () => {
    // Prepare
    const { home } = kubeconfigFile();
    const h = harness({});
    const connector = h.connector({ local: { kubeconfig: { path: '~/config', context: 'kind-dev' } } }, home);

    // Act
    const api = await connector.connect('local');

    // Assess
    expect(api.cluster).toBe('local');
    const kc = h.kubeConfigs.get('local');
    expect(kc?.getCurrentContext()).toBe('kind-dev');
    expect(kc?.getCurrentCluster()).toMatchObject({ server: 'https://127.0.0.1:16443', skipTLSVerify: false });
  });

  it("takes the configuration's defaults.timeouts, as every entry point wires it", async () => {
    // Prepare: a configuration that sets its own Kubernetes timeouts.
    const { file } = kubeconfigFile();
    const config = parseConfig(
      `clusters:\n  local: { kubeconfig: { path: ${file}, context: kind-dev } }\n` +
        'defaults: { timeouts: { kubernetes: { headersMs: 7000 } } }\n' +
        'syncs: [{ source: { secret: app/db }, targets: [{ clusters: [local], namespaces: [app] }] }]\n',
    );
    const seen = new Map<string, KubeTimeouts>();
    const connector = createConfiguredConnector(config.clusters, config.defaults.timeouts, {
      createKubeApi: (cluster, _kc, timeouts) => {
        seen.set(cluster, timeouts);
        return { cluster } as Partial<KubeApi> as KubeApi;
      },
    });

    // Act
    await connector.connect('local');

    // Assess
    expect(seen.get('local')).toEqual({ ...DEFAULT_KUBE_TIMEOUTS, headersMs: 7000 });
  });

  it('names file and context when the context does not exist', async () => {
    // Prepare
    const { file } = kubeconfigFile();
    const connector = harness({}).connector({ local: { kubeconfig: { path: file, context: 'kind-prod' } } });

    // Act
    const error = await rejection(connector.connect('local'));

    // Assess
    expect(error.code).toBe('ClusterUnavailable');
    expect(error.message).toBe(
      `cluster "local": kubeconfig "${file}" has no context "kind-prod" (contexts: kind-dev, dangling)`,
    );
  });

  it('names a context whose cluster is missing', async () => {
    // Prepare
    const { file } = kubeconfigFile();
    const connector = harness({}).connector({ local: { kubeconfig: { path: file, context: 'dangling' } } });

    // Act / Assess
    expect((await rejection(connector.connect('local'))).message).toContain('refers to missing cluster "nowhere"');
  });

  it('reports an unreadable file without quoting it', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'eks-secret-sync-kc-'));
    const broken = join(dir, 'broken');
    writeFileSync(broken, 'clusters: [\n  token: super-secret-value');
    const connector = harness({}).connector({
      missing: { kubeconfig: { path: join(dir, 'nope'), context: 'x' } },
      broken: { kubeconfig: { path: broken, context: 'x' } },
    });

    // Act
    const missing = await rejection(connector.connect('missing'));
    const invalid = await rejection(connector.connect('broken'));

    // Assess
    expect(missing.code).toBe('ClusterUnavailable');
    expect(missing.message).toBe(`cluster "missing": cannot read kubeconfig "${join(dir, 'nope')}": ENOENT`);
    expect(invalid.message).toBe(`cluster "broken": cannot read kubeconfig "${broken}": not a valid kubeconfig`);
    expect(invalid.message).not.toContain('super-secret-value');
  });

  it('refuses insecure-skip-tls-verify unless the sync configuration allows it', async () => {
    // Prepare
    const { file } = kubeconfigFile({ insecure: true });
    const h = harness({});
    const connector = h.connector({
      strict: { kubeconfig: { path: file, context: 'kind-dev' } },
      allowed: { kubeconfig: { path: file, context: 'kind-dev', skipTLSVerify: true } },
    });

    // Act
    const error = await rejection(connector.connect('strict'));
    await connector.connect('allowed');

    // Assess
    expect(error.code).toBe('ClusterUnavailable');
    expect(error.message).toContain('sets insecure-skip-tls-verify');
    expect(h.kubeConfigs.get('allowed')?.getCurrentCluster()?.skipTLSVerify).toBe(true);
  });

  it('skips TLS verification when the sync configuration says so explicitly', async () => {
    // Prepare
    const { file } = kubeconfigFile();
    const h = harness({});
    const connector = h.connector({ local: { kubeconfig: { path: file, context: 'kind-dev', skipTLSVerify: true } } });

    // Act
    await connector.connect('local');

    // Assess
    expect(h.kubeConfigs.get('local')?.getCurrentCluster()?.skipTLSVerify).toBe(true);
  });
});

describe('PooledKubeConfig', () => {
  const timeouts: KubeTimeouts = { connectMs: 1234, headersMs: 2345, bodyMs: 3456 };
  const cluster = { name: 'c', server: 'https://c.example', skipTLSVerify: false };

  it('gives the connection its connect timeout (TCP and TLS handshake)', () => {
    // Act
    const options = new PooledKubeConfig(timeouts).createDispatcherOptions(cluster, { ca: Buffer.from('ca') });

    // Assess
    expect(options).toMatchObject({ type: 'agent', connect: { timeout: 1234, keepAlive: true } });
  });

  it('uses its own agent when no TLS option is set, rather than the global one with its 300 s timeouts', () => {
    // Act
    const options = new PooledKubeConfig(timeouts).createDispatcherOptions(cluster, {});

    // Assess
    expect(options).toEqual({
      type: 'agent',
      connect: { keepAlive: true, keepAliveInitialDelay: 30_000, timeout: 1234 },
    });
  });
});
