/**
 * Time: an API server that accepts TLS and never answers, 429/503 answers with Retry-After, and a cluster that
 * moves while a container is warm. stack-2 is reached through an HTTPS fault proxy (TLS terminated with the stack's
 * serving certificate, so verification against the stack CA still passes), driven through the real onRotation
 * handler as the least-privilege `eks-secret-sync` identity.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createClusterConnector } from '../../../lib/clusters/connector.js';
import { parseConfig } from '../../../lib/config/index.js';
import { ClusterConnectionError } from '../../../lib/errors.js';
import { DEFAULT_MAX_ATTEMPTS } from '../../../lib/sync/calls/retry.js';
import { type KubeFaultProxy, startFaultProxy, startKubeFaultProxy } from '../../support/fault-proxy.js';
import * as helpers from './helpers.js';

const { output, guard, run, value: secretValue } = helpers.reliabilityRun();
let c1: string;
let c2: string;
let namespace: string;

async function password(cluster: string, name: string): Promise<string | undefined> {
  const secret = await helpers.findSecret(cluster, namespace, name);
  return secret === undefined ? undefined : Buffer.from(secret.data?.password ?? '', 'base64').toString('utf8');
}

/** The sync identity's kubeconfig with `cluster` reached at `server`, written to `path` (or a fresh file). */
function kubeconfigWith(cluster: string, server: string, path?: string): string {
  const kubeconfig = parse(readFileSync(helpers.syncKubeConfigPath(), 'utf8')) as {
    clusters: Array<{ name: string; cluster: { server: string } }>;
  };
  for (const entry of kubeconfig.clusters) if (entry.name === cluster) entry.cluster.server = server;
  if (path === undefined) return helpers.tempFile(`${cluster}.kubeconfig`, stringify(kubeconfig));
  writeFileSync(path, stringify(kubeconfig), { mode: 0o600 });
  return path;
}

function configFor(secret: helpers.SeededSecret, c2Entry: string, k8sName: string): string {
  return `clusters:
${helpers.kubeconfigClusters([c1])}
  ${c2}: ${c2Entry}
syncs:
  - source: { secret: ${secret.name} }
    targets:
      - { clusters: [${c1}, ${c2}], namespaces: [${namespace}], secret: ${k8sName} }
`;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

let proxy: KubeFaultProxy;

beforeAll(async () => {
  const info = helpers.stack();
  [c1, c2] = [info.clusters[0] as string, info.clusters[1] as string];
  const pki = join(info.stackDir, 'pki');
  proxy = await startKubeFaultProxy(info.servers[c2] as string, {
    key: readFileSync(join(pki, 'serving.key')),
    cert: readFileSync(join(pki, 'serving.crt')),
    ca: readFileSync(info.caFile),
  });
  namespace = (await helpers.freshNamespace([c1, c2], { prefix: 'rel-time' })).name;
});

afterAll(async () => {
  await proxy?.close();
  expect(guard.hits(output.text())).toEqual([]);
});

describe('an API server that accepts TLS and never answers', () => {
  it('fails that cluster with a retryable Timeout after the configured time; the other cluster is written', async () => {
    // Prepare
    const value = secretValue('blackhole');
    const secret = await helpers.createSecret(`rel/time-${run}/blackhole`, value);
    const proxied = kubeconfigWith(c2, proxy.url);
    const config = configFor(
      secret,
      `{ kubeconfig: { path: ${proxied}, context: ${c2} }, timeouts: { headersMs: 2000 } }`,
      'blackhole',
    );
    const handler = await helpers.loadFunction('on-rotation', config);
    proxy.reset();
    proxy.inject({ kind: 'blackhole', times: 1000 });

    // Act
    const started = Date.now();
    const outcome = await helpers.invoke(handler, helpers.labelEvent(secret, secret.versionId));
    const elapsedMs = Date.now() - started;
    const direct = await createClusterConnector(parseConfig(config).clusters)
      .connect(c2)
      .then((api) => api.getSecret(namespace, 'blackhole'))
      .catch((e: unknown) => e);
    guard.collect(outcome.error);
    guard.collect(direct);

    // Assess: far sooner than undici's 300 s default; stack-1 complete, stack-2 failed naming cluster and step.
    expect(elapsedMs).toBeLessThan(30_000);
    expect(proxy.faulted).toBeGreaterThan(0);
    const report = outcome.error?.report as helpers.Report;
    expect(report.results.find((r) => r.cluster === c1)?.action).toBe('created');
    const failed = report.results.find((r) => r.cluster === c2);
    expect(failed?.action).toBe('failed');
    expect(failed?.error?.code).toBe('Timeout');
    expect(failed?.error?.message).toBe(
      `cluster "${c2}" timed out while trying to get secrets in namespace "${namespace}": ` +
        'no response headers within 2000 ms (UND_ERR_HEADERS_TIMEOUT)',
    );
    expect(outcome.error?.code).toBe('Timeout');
    expect(direct).toBeInstanceOf(ClusterConnectionError);
    expect(direct).toMatchObject({ code: 'Timeout', retryable: true, failure: 'response' });
    expect(await password(c1, 'blackhole')).toBe(value.password);
    expect(await password(c2, 'blackhole')).toBeUndefined();
  });
});

describe('an endpoint that accepts TCP and never completes the TLS handshake', () => {
  it('fails that cluster with Timeout after connectMs, as a connect failure', async () => {
    // Prepare: a listener that accepts and stays silent.
    const accepted = new Set<Socket>();
    const silent = createServer((socket) => accepted.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const path = kubeconfigWith(c2, `https://127.0.0.1:${address.port}`);
    const clustersConfig = parseConfig(
      `clusters:\n  ${c2}: { kubeconfig: { path: ${path}, context: ${c2} }, timeouts: { connectMs: 1000 } }\n` +
        `syncs: [{ source: { secret: x }, targets: [{ clusters: [${c2}], namespaces: [${namespace}] }] }]\n`,
    ).clusters;

    // Act
    const started = Date.now();
    const error = await createClusterConnector(clustersConfig)
      .connect(c2)
      .then((api) => api.getSecret(namespace, 'x'))
      .catch((e: unknown) => e);
    const elapsedMs = Date.now() - started;
    for (const socket of accepted) socket.destroy();
    silent.close();

    // Assess
    expect(elapsedMs).toBeLessThan(30_000);
    expect(error).toBeInstanceOf(ClusterConnectionError);
    expect(error).toMatchObject({ code: 'Timeout', failure: 'connect', retryable: true });
    expect((error as Error).message).toBe(
      `cluster "${c2}" timed out while trying to get secrets in namespace "${namespace}": ` +
        'could not connect within 1000 ms (UND_ERR_CONNECT_TIMEOUT)',
    );
  });
});

describe('429 and 503 answers', () => {
  let secret: helpers.SeededSecret;
  let handler: helpers.Handler;

  beforeAll(async () => {
    secret = await helpers.createSecret(`rel/time-${run}/throttled`, secretValue('throttled-v1'));
    const proxied = kubeconfigWith(c2, proxy.url);
    handler = await helpers.loadFunction(
      'on-rotation',
      configFor(secret, `{ kubeconfig: { path: ${proxied}, context: ${c2} } }`, 'throttled'),
    );
  });

  it('retries them after Retry-After, and the binding is written once', async () => {
    // Prepare
    proxy.reset();
    proxy.inject({ kind: '429', times: 1, method: 'GET', path: '/secrets/throttled', retryAfterSeconds: 1 });
    proxy.inject({ kind: '503', times: 1, method: 'POST', path: '/secrets', retryAfterSeconds: 1 });

    // Act
    const outcome = await helpers.invoke(handler, helpers.labelEvent(secret, secret.versionId));
    guard.collect(outcome.result);
    guard.collect(outcome.error);

    // Assess
    expect(outcome.error).toBeUndefined();
    const report = outcome.result as helpers.Report;
    expect(report.results.map((r) => [r.cluster, r.action])).toEqual([
      [c1, 'created'],
      [c2, 'created'],
    ]);
    expect(proxy.faulted).toBe(2);
    const get = `GET /api/v1/namespaces/${namespace}/secrets/throttled`;
    const post = `POST /api/v1/namespaces/${namespace}/secrets`;
    expect(proxy.requests.filter((r) => r === get)).toHaveLength(2);
    expect(proxy.requests.filter((r) => r === post)).toHaveLength(2);
    expect(await password(c2, 'throttled')).toBe(await password(c1, 'throttled'));
  });

  it('gives up after a bounded number of attempts and fails the binding as retryable', async () => {
    // Prepare
    const value = secretValue('throttled-v2');
    const versionId = await helpers.putSecret(secret.name, value);
    proxy.reset();
    proxy.inject({ kind: '503', times: 1000, method: 'GET', path: '/secrets/throttled' });

    // Act
    const outcome = await helpers.invoke(handler, helpers.labelEvent(secret, versionId));
    guard.collect(outcome.error);

    // Assess
    const failed = (outcome.error?.report as helpers.Report | undefined)?.results.find((r) => r.cluster === c2);
    expect(failed?.error).toEqual({
      code: 'KubernetesError',
      message: `cannot get secrets in namespace "${namespace}" of cluster "${c2}": HTTP 503 ServiceUnavailable`,
    });
    const get = `GET /api/v1/namespaces/${namespace}/secrets/throttled`;
    expect(proxy.requests.filter((r) => r === get)).toHaveLength(DEFAULT_MAX_ATTEMPTS);
    expect(await password(c1, 'throttled')).toBe(value.password);
  });
});

describe('a cluster that moved while the container is warm', () => {
  it('looks the cluster up again after a connect failure, so the next invocation reaches it', async () => {
    // Prepare: stack-2's kubeconfig names a port nothing listens on (the cluster "moved").
    const value = secretValue('moved');
    const secret = await helpers.createSecret(`rel/time-${run}/moved`, value);
    const path = kubeconfigWith(c2, `https://127.0.0.1:${await closedPort()}`);
    const handler = await helpers.loadFunction(
      'on-rotation',
      configFor(secret, `{ kubeconfig: { path: ${path}, context: ${c2} } }`, 'moved'),
    );
    const event = helpers.labelEvent(secret, secret.versionId);
    const before = await helpers.invoke(handler, event);
    guard.collect(before.error);
    const unreachable = (before.error?.report as helpers.Report | undefined)?.results.find((r) => r.cluster === c2);

    // Act: the kubeconfig now points at the cluster's new address; the same warm handler gets the event again.
    kubeconfigWith(c2, helpers.stack().servers[c2] as string, path);
    const after = await helpers.invoke(handler, event);
    guard.collect(after.result);

    // Assess
    expect(unreachable?.error?.code).toBe('ClusterUnavailable');
    expect(unreachable?.error?.message).toMatch(new RegExp(`^cluster "${c2}" unreachable .*ECONNREFUSED`));
    expect(after.error).toBeUndefined();
    expect((after.result as helpers.Report).results.find((r) => r.cluster === c2)?.action).toBe('created');
    expect(await password(c2, 'moved')).toBe(value.password);
  });
});

describe('a Secrets Manager endpoint that accepts and never answers', () => {
  const saved = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;

  afterAll(() => {
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
    else process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = saved;
  });

  it('fails the pass with a retryable SourceError once the SDK attempts time out, and writes nothing', async () => {
    // Prepare
    const secret = await helpers.createSecret(`rel/time-${run}/sm-silent`, secretValue('sm-silent'));
    const smProxy = await startFaultProxy(helpers.stack().aws.endpoint);
    // The SDK resolves its endpoint lazily: keep the variable until the invocation is over.
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = smProxy.url;
    const handler = await helpers.loadFunction(
      'on-rotation',
      `clusters:
${helpers.kubeconfigClusters([c1])}
defaults: { timeouts: { aws: { connectMs: 1000, requestMs: 1500 } } }
syncs:
  - source: { secret: ${secret.name} }
    targets: [{ clusters: [${c1}], namespaces: [${namespace}], secret: sm-silent }]
`,
    );
    smProxy.inject({ kind: 'blackhole', times: 100, action: 'GetSecretValue' });

    // Act
    const started = Date.now();
    const outcome = await helpers.invoke(handler, helpers.labelEvent(secret, secret.versionId));
    const elapsedMs = Date.now() - started;
    await smProxy.close();
    guard.collect(outcome.error);

    // Assess: every attempt (the SDK makes 3) cut at requestMs, instead of waiting forever.
    expect(elapsedMs).toBeLessThan(30_000);
    expect(smProxy.calls('GetSecretValue')).toBe(3);
    const report = outcome.error?.report as helpers.Report | undefined;
    expect(report?.sources.map((s) => s.error?.code)).toEqual(['SourceError']);
    expect(report?.results.map((r) => r.action)).toEqual(['failed']);
    expect(outcome.error?.message).toMatch(/GetSecretValue/);
    expect(await password(c1, 'sm-silent')).toBeUndefined();
  });
});
