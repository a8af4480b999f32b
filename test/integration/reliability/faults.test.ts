/**
 * Faults: an API server cut in the middle of a fan-out (a TCP forwarder in front of stack-3 that we close and
 * reopen), Secrets Manager 5xx / throttling / resets through a fault-injecting proxy, an EKS token expiring during a
 * long run (injected clock; see that block), a 409 storm from a concurrent writer, and a namespace deleted between
 * plan and apply. Everything runs as the least-privilege `eks-secret-sync` identity unless a case says otherwise.
 */
import { readFileSync } from 'node:fs';
import { KubeConfig, PatchStrategy, setHeaderOptions, type V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createClusterConnector } from '../../../lib/clusters/connector.js';
import { createEksToken } from '../../../lib/clusters/eks-token.js';
import { parseConfig } from '../../../lib/config/index.js';
import type { SyncRequest } from '../../../lib/domain/request.js';
import { SyncError } from '../../../lib/errors.js';
import { createKubeApi } from '../../../lib/kube/api.js';
import { createSecretsManagerSource } from '../../../lib/source/secrets-manager.js';
import { SyncEngine } from '../../../lib/sync/engine.js';
import type { KubeApi } from '../../../lib/sync/ports/kube.js';
import type { SyncReport } from '../../../lib/sync/types.js';
import { type FaultProxy, startFaultProxy, startTcpForwarder, type TcpForwarder } from '../../support/fault-proxy.js';
import { deployment } from '../../support/workloads.js';
import * as helpers from './helpers.js';

const { output, guard, run, value: secretValue } = helpers.reliabilityRun();
const engineLines: string[] = [];
const prefix = `rel/faults-${run}`;
let clusters: [string, string, string];

function collect(thing: unknown): void {
  guard.collect(thing);
}

beforeAll(() => {
  const info = helpers.stack();
  clusters = [info.clusters[0] as string, info.clusters[1] as string, info.clusters[2] as string];
});

describe('an API server cut in the middle of a fan-out', () => {
  const k8sName = 'app-db';
  let forwarder: TcpForwarder;
  let namespaces: string[];
  let rotation: helpers.Handler;
  let reconcile: helpers.Handler;
  let secret: Awaited<ReturnType<typeof helpers.createSecret>>;
  const values = { v1: secretValue('cut-v1'), v2: secretValue('cut-v2'), v3: secretValue('cut-v3') };

  /** ReplicaSets of `web` per cluster/namespace. */
  async function revisions(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const cluster of clusters) {
      for (const namespace of namespaces) {
        out.set(`${cluster}/${namespace}`, (await helpers.replicaSetsOf(cluster, namespace, 'web')).length);
      }
    }
    return out;
  }

  async function settled(expected: number): Promise<void> {
    await helpers.waitFor(async () => [...(await revisions()).values()].every((n) => n === expected), 30_000, 200);
  }

  async function passwords(cluster: string): Promise<string[]> {
    return Promise.all(
      namespaces.map(async (ns) => {
        const s = await helpers.findSecret(cluster, ns, k8sName);
        return s === undefined ? '' : helpers.decode(s, 'password');
      }),
    );
  }

  beforeAll(async () => {
    const stack3 = clusters[2];
    const port = Number(new URL(helpers.stack().servers[stack3] as string).port);
    forwarder = await startTcpForwarder(port);
    // The same kubeconfig, with stack-3 reached through the forwarder: the serving certificate has the SAN
    // 127.0.0.1, so TLS verification against the stack CA still passes.
    const kubeconfig = parse(readFileSync(helpers.syncKubeConfigPath(), 'utf8')) as {
      clusters: Array<{ name: string; cluster: { server: string } }>;
    };
    for (const entry of kubeconfig.clusters) {
      if (entry.name === stack3) entry.cluster.server = `https://127.0.0.1:${forwarder.port}`;
    }
    const forwardedPath = helpers.tempFile('forwarded.kubeconfig', stringify(kubeconfig));

    namespaces = await helpers.namespacesWithWeb(clusters, 4, 'rel-cut', k8sName);
    secret = await helpers.createSecret(`${prefix}/cut`, values.v1);
    const config = `clusters:
${helpers.kubeconfigClusters(clusters.slice(0, 2))}
  ${stack3}: { kubeconfig: { path: ${forwardedPath}, context: ${stack3} } }
defaults: { bindingConcurrency: 1 }
syncs:
  - source: { secret: ${secret.name} }
    targets:
      - { clusters: [${clusters.join(', ')}], namespaces: [${namespaces.join(', ')}], secret: ${k8sName} }
`;
    rotation = await helpers.loadFunction('on-rotation', config);
    reconcile = await helpers.loadFunction('reconcile', config);
    const first = await helpers.invoke(rotation, helpers.labelEvent(secret, secret.versionId));
    collect(first.result);
    expect(first.error).toBeUndefined();
    // The first sync restarts every consumer once (it had no hash annotation yet).
    await settled(2);
  });

  afterAll(async () => {
    await forwarder?.close();
  });

  it('completes the other clusters, fails the cut one naming it, and the retry heals it with one restart each', async () => {
    const stack3 = clusters[2];
    const versionId = await helpers.putSecret(secret.name, values.v2);
    const event = helpers.labelEvent(secret, versionId);
    forwarder.latencyMs = 50;

    // Act: cut stack-3 as soon as its first namespace holds the new value.
    const pending = helpers.invoke(rotation, event);
    await helpers.waitFor(async () => (await passwords(stack3)).includes(values.v2.password), 20_000, 10);
    await forwarder.cut();
    const cut = await pending;
    collect(cut.error);

    // Assess: stack-1 and stack-2 complete, stack-3 partly written and failed as unreachable.
    expect(cut.error?.message).toMatch(/bindings failed/);
    const report = cut.error?.report as helpers.Report;
    for (const result of report.results) {
      if (result.cluster === stack3) continue;
      expect(result.action, `${result.cluster}/${result.namespace}`).toBe('updated');
      expect(result.restarted).toMatchObject([{ kind: 'Deployment', name: 'web' }]);
    }
    const third = report.results.filter((r) => r.cluster === stack3);
    const failed = third.filter((r) => r.action === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    for (const result of failed) {
      expect(result.error?.code).toBe('ClusterUnavailable');
      expect(result.error?.message).toContain(`cluster "${stack3}"`);
    }
    const midway = await passwords(stack3);
    expect(midway.filter((p) => p === values.v2.password).length).toBeGreaterThan(0);
    expect(midway.filter((p) => p !== values.v2.password).length).toBeGreaterThan(0);

    // A retry while the server is still away: the others are untouched, stack-3 fails again (connection refused).
    forwarder.latencyMs = 0;
    const down = await helpers.invoke(rotation, event);
    collect(down.error);
    const downReport = down.error?.report as helpers.Report;
    for (const result of downReport.results) {
      if (result.cluster === stack3) {
        expect(result.action).toBe('failed');
        expect(result.error?.message).toMatch(new RegExp(`cluster "${stack3}" unreachable`));
      } else {
        expect(result.action).toBe('unchanged');
        expect(result.restarted).toEqual([]);
      }
    }

    // The server is back: the redelivered event finishes stack-3.
    await forwarder.reopen();
    const healed = await helpers.invoke(rotation, event);
    collect(healed.result);
    expect(healed.error).toBeUndefined();
    for (const cluster of clusters) expect(await passwords(cluster)).toEqual(namespaces.map(() => values.v2.password));
    // One restart per consumer for this rotation, wherever the cut fell.
    await settled(3);
    await new Promise((r) => setTimeout(r, 1_000));
    expect([...(await revisions()).values()].every((n) => n === 3)).toBe(true);
  });

  it('a rotation missed while the server is down is healed by the scheduled reconcile', async () => {
    const stack3 = clusters[2];
    await forwarder.cut();
    const versionId = await helpers.putSecret(secret.name, values.v3);
    const missed = await helpers.invoke(rotation, helpers.labelEvent(secret, versionId));
    collect(missed.error);
    expect(missed.error?.message).toContain(`cluster "${stack3}"`);
    expect(await passwords(stack3)).toEqual(namespaces.map(() => values.v2.password));

    await forwarder.reopen();
    const { result, error } = await helpers.invoke(reconcile, { 'detail-type': 'Scheduled Event' });
    collect(result);
    expect(error).toBeUndefined();

    const report = result as helpers.Report;
    for (const r of report.results) {
      if (r.cluster === stack3) {
        expect(r.action).toBe('updated');
        expect(r.drift).toBe(true);
      } else {
        expect(r.action).toBe('unchanged');
        expect(r.restarted).toEqual([]);
      }
    }
    for (const cluster of clusters) expect(await passwords(cluster)).toEqual(namespaces.map(() => values.v3.password));
    await settled(4);
  });
});

describe('Secrets Manager faults through the fault proxy', () => {
  let proxy: FaultProxy;
  let handler: helpers.Handler;
  let reconcile: helpers.Handler;
  let namespace: string;
  const saved = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
  const secrets: Array<Awaited<ReturnType<typeof helpers.createSecret>>> = [];

  beforeAll(async () => {
    proxy = await startFaultProxy(helpers.stack().aws.endpoint);
    // The SDK resolves its endpoint lazily: keep the variable for the whole block.
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = proxy.url;
    namespace = (await helpers.freshNamespace([clusters[0]], { prefix: 'rel-sm' })).name;
    for (let i = 0; i < 3; i++) secrets.push(await helpers.createSecret(`${prefix}/sm-${i}`, secretValue(`sm-${i}`)));
    const config = `clusters:\n${helpers.kubeconfigClusters([clusters[0]])}\nsyncs:\n${secrets
      .map(
        (s, i) =>
          `  - source: { secret: ${s.name} }\n    targets:\n      - { clusters: [${clusters[0]}], namespaces: [${namespace}], secret: sm-${i} }`,
      )
      .join('\n')}\n`;
    handler = await helpers.loadFunction('on-rotation', config);
    reconcile = await helpers.loadFunction('reconcile', config);
  });

  afterAll(async () => {
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
    else process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = saved;
    await proxy?.close();
  });

  it.each([
    ['two 500 InternalServiceError', '500' as const],
    ['two ThrottlingException', 'throttle' as const],
    ['two reset connections', 'reset' as const],
  ])('survives %s: the SDK retries and the value is synced', async (_label, kind) => {
    const value = secretValue(`sm-retry-${kind}`);
    const secret = secrets[0] as (typeof secrets)[number];
    const versionId = await helpers.putSecret(secret.name, value);
    proxy.reset();
    proxy.inject({ kind, times: 2, action: 'GetSecretValue' });

    const { result, error } = await helpers.invoke(handler, helpers.labelEvent(secret, versionId));
    collect(result);

    expect(error).toBeUndefined();
    expect(proxy.failures('GetSecretValue')).toBe(2);
    expect(proxy.calls('GetSecretValue')).toBe(3);
    const written = await helpers.findSecret(clusters[0], namespace, 'sm-0');
    expect(helpers.decode(written as V1Secret, 'password')).toBe(value.password);
  });

  it('with persistent 503s fails the pass with a retryable SourceError naming the secret, and writes nothing', async () => {
    const secret = secrets[1] as (typeof secrets)[number];
    const first = await helpers.invoke(handler, helpers.labelEvent(secret, secret.versionId));
    collect(first.result);
    expect(first.error).toBeUndefined();
    const before = (await helpers.findSecret(clusters[0], namespace, 'sm-1'))?.metadata?.resourceVersion;
    const versionId = await helpers.putSecret(secret.name, secretValue('sm-persistent'));
    proxy.reset();
    proxy.inject({ kind: '503', times: 1_000 });

    const { error } = await helpers.invoke(handler, helpers.labelEvent(secret, versionId));
    collect(error);

    const report = error?.report as helpers.Report;
    expect(report.sources[0]?.error?.code).toBe('SourceError');
    // The event names the secret by ARN and the sync by name: DescribeSecret of the configured name decides whether
    // they are one secret, and without an answer nothing is planned (nor guessed).
    expect(report.sources[0]?.error?.message).toBe(
      `Secrets Manager DescribeSecret failed for secret "${secret.name}": ServiceUnavailable (retryable)`,
    );
    expect(report.results).toEqual([]);
    // Bounded: the SDK's three attempts, nothing on top.
    expect(proxy.calls('DescribeSecret')).toBe(3);
    expect(proxy.calls('GetSecretValue')).toBe(0);
    expect((await helpers.findSecret(clusters[0], namespace, 'sm-1'))?.metadata?.resourceVersion).toBe(before);
  });

  it('with the version check after writing throttled, fails the binding as VersionUnconfirmed; the retry succeeds', async () => {
    const secret = secrets[2] as (typeof secrets)[number];
    const value = secretValue('sm-unconfirmed');
    const versionId = await helpers.putSecret(secret.name, value);
    proxy.reset();
    proxy.inject({ kind: 'throttle', times: 1_000, action: 'DescribeSecret' });

    // Named by its configured name (no ARN in the event), so no DescribeSecret is needed to tell which secret it is:
    // the throttled DescribeSecret is only the check after writing.
    const { error } = await helpers.invoke(handler, { ...helpers.labelEvent(secret, versionId), resources: [] });
    collect(error);

    // Written, but not reported done: the handler throws, so that the platform retries.
    const report = error?.report as helpers.Report;
    expect(report.results.map((r) => [r.action, r.error?.code])).toEqual([['failed', 'VersionUnconfirmed']]);
    expect(report.results[0]?.error?.message).toMatch(
      new RegExp(
        `^Secret (created|updated), but could not confirm that ".*" is still at version ${versionId}, the one read: .*ThrottlingException`,
      ),
    );
    expect(proxy.calls('DescribeSecret')).toBeGreaterThan(0);
    expect(helpers.decode((await helpers.findSecret(clusters[0], namespace, 'sm-2')) as V1Secret, 'password')).toBe(
      value.password,
    );

    proxy.reset();
    const retry = await helpers.invoke(handler, helpers.labelEvent(secret, versionId));
    collect(retry.result);
    expect(retry.error).toBeUndefined();
    expect((retry.result as helpers.Report).results.map((r) => r.action)).toEqual(['unchanged']);
  });

  it('with BatchGetSecretValue throttled during a reconcile fails every binding without per-id fallback, then heals', async () => {
    proxy.reset();
    const seen = new Map<string, string | undefined>();
    for (let i = 0; i < secrets.length; i++) {
      seen.set(`sm-${i}`, (await helpers.findSecret(clusters[0], namespace, `sm-${i}`))?.metadata?.resourceVersion);
    }
    proxy.inject({ kind: 'throttle', times: 1_000, action: 'BatchGetSecretValue' });

    // failOnError: as the schedule's events do, a pass with failures throws (a plain manual invoke returns the report).
    const throttled = await helpers.invoke(reconcile, { failOnError: true });
    collect(throttled.error);

    const report = throttled.error?.report as helpers.Report;
    expect(report.results).toHaveLength(3);
    for (const result of report.results) {
      expect(result.action).toBe('failed');
      expect(result.error?.code).toBe('SourceError');
      expect(result.error?.message).toMatch(
        /BatchGetSecretValue failed for secret ".*": ThrottlingException \(retryable\)/,
      );
    }
    expect(proxy.calls('BatchGetSecretValue')).toBe(3);
    expect(proxy.calls('GetSecretValue')).toBe(0);
    for (const [name, rv] of seen) {
      expect((await helpers.findSecret(clusters[0], namespace, name))?.metadata?.resourceVersion).toBe(rv);
    }

    proxy.reset();
    const healed = await helpers.invoke(reconcile, {});
    collect(healed.result);
    expect(healed.error).toBeUndefined();
    expect((healed.result as helpers.Report).results.every((r) => r.action !== 'failed')).toBe(true);
  });
});

/**
 * Token expiry, with an injected clock: an EKS cluster entry whose DescribeCluster (faked) points at stack-1, and an
 * API handle that, before every real call, asks the connector's KubeConfig for its Authorization header and refuses
 * a token older than 15 minutes as the aws-iam-authenticator does. The stack's API servers authenticate with static
 * tokens, so the real call itself goes out with the sync identity's token; the EKS token is checked, not sent.
 */
describe('an EKS token expiring during a long run (injected clock)', () => {
  const MINUTE = 60_000;
  let now = Date.parse('2026-11-29T08:00:00.000Z');
  const minted: number[] = [];
  const ages: number[] = [];
  let rejected = 0;

  function tokenAge(header: string | undefined): number {
    const token = (header ?? '').replace(/^Bearer /, '');
    if (!token.startsWith('k8s-aws-v1.')) throw new Error('not an EKS token');
    const url = new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf8'));
    const stamp = url.searchParams.get('X-Amz-Date') ?? '';
    const signed = Date.parse(stamp.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'));
    return now - signed;
  }

  /** The real stack-1 API behind a gate that checks the EKS token the connector would send, and ages the clock. */
  function gated(cluster: string, kc: KubeConfig): KubeApi {
    const real = createKubeApi(cluster, helpers.syncKubeConfig(clusters[0]));
    const check = async () => {
      now += 2 * MINUTE;
      const opts: { headers?: Record<string, string> } = {};
      await kc.applyToHTTPSOptions(opts);
      const age = tokenAge(opts.headers?.Authorization);
      ages.push(age);
      if (age > 15 * MINUTE) {
        rejected += 1;
        throw new SyncError('ClusterUnavailable', `cluster "${cluster}" rejected our credentials (401 Unauthorized)`);
      }
    };
    const wrap =
      <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        await check();
        return fn(...args);
      };
    return {
      cluster,
      getSecret: wrap(real.getSecret),
      getSecretMetadata: wrap(real.getSecretMetadata),
      createSecret: wrap(real.createSecret),
      replaceSecret: wrap(real.replaceSecret),
      deleteSecret: wrap(real.deleteSecret),
      clearSecretAnnotation: wrap(real.clearSecretAnnotation),
      annotateSecret: wrap(real.annotateSecret),
      listManagedSecrets: wrap(real.listManagedSecrets),
      listWorkloads: wrap(real.listWorkloads),
      patchTemplateAnnotations: wrap(real.patchTemplateAnnotations),
      readWorkloadStatus: wrap(real.readWorkloadStatus),
      recordEvent: wrap(real.recordEvent),
    };
  }

  it('keeps every request on a fresh token through a run of well over an hour', async () => {
    const namespaces: string[] = [];
    for (let i = 0; i < 8; i++)
      namespaces.push((await helpers.freshNamespace([clusters[0]], { prefix: 'rel-tok' })).name);
    const secret = await helpers.createSecret(`${prefix}/token`, secretValue('token-run'));
    const config = parseConfig(`clusters:
  prod: { eks: { name: prod-eks, region: us-east-1 } }
defaults: { bindingConcurrency: 1 }
syncs:
  - source: { secret: ${secret.name} }
    targets:
      - { clusters: [prod], namespaces: [${namespaces.join(', ')}], secret: long-run }
`);
    const ca = readFileSync(helpers.stack().caFile).toString('base64');
    const connector = createClusterConnector(config.clusters, {
      ...helpers.describedEksCluster('AKIDLONGRUN', helpers.stack().servers[clusters[0]], ca),
      now: () => new Date(now),
      createToken: (input) => {
        minted.push(input.now?.getTime() ?? now);
        return createEksToken(input);
      },
      createKubeApi: gated,
    });
    const engine = new SyncEngine({
      config,
      source: createSecretsManagerSource(helpers.runtimeSecretsManager()),
      clusters: connector,
      now: () => new Date(now),
      log: helpers.collectingLog(engineLines),
    });
    const started = now;

    const report = await engine.run({ trigger: 'backfill', dryRun: false, restart: true });
    collect(report);

    expect(report.results.map((r) => r.action)).toEqual(namespaces.map(() => 'created'));
    expect(now - started).toBeGreaterThan(60 * MINUTE);
    console.info(
      `[reliability] token run: ${Math.round((now - started) / MINUTE)} simulated minutes, ${ages.length} requests, ${minted.length} tokens minted, oldest used ${Math.round(Math.max(...ages) / MINUTE)} min`,
    );
    expect(rejected).toBe(0);
    expect(Math.max(...ages)).toBeLessThanOrEqual(14 * MINUTE + 2 * MINUTE);
    // One token per 14 minutes of run, at least.
    expect(minted.length).toBeGreaterThanOrEqual(Math.floor((now - started) / (14 * MINUTE)));
    // Control: the gate does refuse a token past 15 minutes.
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser(
      { name: 'prod', server: helpers.stack().servers[clusters[0]] as string, caData: ca, skipTLSVerify: false },
      { name: 'prod/stale' },
    );
    kc.addAuthenticator({
      isAuthProvider: () => true,
      applyAuthentication: async (_u, opts) => {
        const stale = await createEksToken({
          clusterName: 'prod-eks',
          region: 'us-east-1',
          credentials: { accessKeyId: 'AKIDLONGRUN', secretAccessKey: 'not-a-real-key' },
          now: new Date(now - 16 * MINUTE),
        });
        opts.headers = { ...opts.headers, Authorization: `Bearer ${stale.token}` };
      },
    });
    const stale = gated('prod', kc);
    await expect(stale.getSecret(namespaces[0] as string, 'long-run')).rejects.toThrow(/401 Unauthorized/);
  });
});

describe('a 409 storm from a concurrent writer', () => {
  it('converges within bounded retries, keeps the other writer’s annotation and restarts the consumer once', async () => {
    const cluster = clusters[0];
    const namespace = (await helpers.freshNamespace([cluster], { prefix: 'rel-409' })).name;
    const { core, apps } = helpers.adminApis(cluster);
    await apps.createNamespacedDeployment({ namespace, body: deployment('web', 'stormy', 'envFrom') });
    const secret = await helpers.createSecret(`${prefix}/storm`, secretValue('storm-v1'));
    const configText = `clusters:\n${helpers.kubeconfigClusters([cluster])}\nsyncs:\n  - source: { secret: ${secret.name} }\n    targets:\n      - { clusters: [${cluster}], namespaces: [${namespace}], secret: stormy }\n`;
    const request: SyncRequest = { trigger: 'rotation', secrets: [secret.name], dryRun: false, restart: true };
    const initial = await helpers
      .realEngine(configText, { log: helpers.collectingLog(engineLines) })
      .engine.run(request);
    collect(initial);
    await helpers.waitFor(
      async () => (await helpers.replicaSetsOf(cluster, namespace, 'web')).length === 2,
      30_000,
      200,
    );
    const v2 = secretValue('storm-v2');
    await helpers.putSecret(secret.name, v2);

    // The other writer bumps an annotation of the Secret: in a loop in the background, and, for the first
    // eight of our PUTs, right between our read and our write, so that those PUTs surely meet a 409.
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    let ticks = 0;
    const bump = async (who: string) => {
      ticks += 1;
      const body = { metadata: { annotations: { 'storm.test/tick': `${who}-${ticks}` } } };
      await core.patchNamespacedSecret({ namespace, name: 'stormy', body }, merge);
    };
    let storming = true;
    const storm = (async () => {
      while (storming) {
        await bump('loop');
        await new Promise((r) => setTimeout(r, Math.random() * 5));
      }
    })();
    let interpose = 8;
    const interfering = (api: KubeApi): KubeApi => ({
      ...api,
      replaceSecret: async (write) => {
        if (interpose > 0) {
          interpose -= 1;
          await bump('between');
        }
        return api.replaceSecret(write);
      },
    });

    const passes: Array<{ replaces: number; gets: number; report: SyncReport }> = [];
    try {
      for (let pass = 0; pass < 6; pass++) {
        const meter = new helpers.KubeCallMeter();
        const { engine } = helpers.realEngine(configText, {
          wrap: (inner) =>
            helpers.meteredConnector({ connect: async (c) => interfering(await inner.connect(c)) }, meter),
          log: helpers.collectingLog(engineLines),
        });
        const report = await engine.run(request);
        collect(report);
        passes.push({
          replaces: meter.count(cluster, 'replaceSecret'),
          gets: meter.count(cluster, 'getSecret'),
          report,
        });
        if (report.summary.failed === 0) break;
        // A pass that loses every attempt says so, naming the Secret, and is retryable by the platform.
        expect(report.results[0]?.error?.code).toBe('Conflict');
        expect(report.results[0]?.error?.message).toContain(`"${namespace}/stormy" was modified concurrently`);
      }
    } finally {
      storming = false;
      await storm;
    }

    const replaces = passes.reduce((n, p) => n + p.replaces, 0);
    console.info(
      `[reliability] 409 storm: ${ticks} concurrent writes, ${passes.length} pass(es), ${replaces} PUT attempts`,
    );
    // Bounded: six attempts (one GET and one PUT each) per pass; the first pass loses all six.
    expect(passes[0]?.replaces).toBe(6);
    expect(passes[0]?.report.summary.failed).toBe(1);
    for (const pass of passes) {
      expect(pass.replaces).toBeLessThanOrEqual(6);
      expect(pass.gets).toBeLessThanOrEqual(6);
    }
    const last = passes.at(-1);
    expect(last?.report.summary.failed).toBe(0);
    expect(last?.report.results[0]?.action).toBe('updated');
    const final = (await core.readNamespacedSecret({ namespace, name: 'stormy' })) as V1Secret;
    expect(helpers.decode(final, 'password')).toBe(v2.password);
    expect(final.metadata?.annotations?.['storm.test/tick']).toBeDefined();
    // Restarted once for v2, although the Secret was written by the pass after the failed one.
    await helpers.waitFor(
      async () => (await helpers.replicaSetsOf(cluster, namespace, 'web')).length === 3,
      30_000,
      200,
    );
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await helpers.replicaSetsOf(cluster, namespace, 'web')).toHaveLength(3);
  });
});

describe('a namespace deleted between plan and apply', () => {
  async function scenario(kubeconfig: string) {
    const [c1, c2] = clusters;
    const namespaces = [
      (await helpers.freshNamespace([c1, c2], { prefix: 'rel-nsdel' })).name,
      (await helpers.freshNamespace([c1, c2], { prefix: 'rel-nsdel' })).name,
      (await helpers.freshNamespace([c1, c2], { prefix: 'rel-nsdel' })).name,
    ];
    const doomed = namespaces[1] as string;
    const secret = await helpers.createSecret(
      `${prefix}/nsdel-${crypto.randomUUID().slice(0, 6)}`,
      secretValue('nsdel'),
    );
    const configText = `clusters:
  ${c1}: { kubeconfig: { path: ${kubeconfig}, context: ${c1} } }
  ${c2}: { kubeconfig: { path: ${kubeconfig}, context: ${c2} } }
syncs:
  - source: { secret: ${secret.name} }
    targets:
      - { clusters: [${c1}, ${c2}], namespaces: [${namespaces.join(', ')}], secret: survivor }
`;
    let deleted = false;
    const { engine } = helpers.realEngine(configText, {
      log: helpers.collectingLog(engineLines),
      wrap: (inner) => ({
        // The plan is made; before stack-1 is applied, its middle namespace goes away.
        connect: async (cluster) => {
          if (cluster === c1 && !deleted) {
            deleted = true;
            await helpers.adminApis(c1).core.deleteNamespace({ name: doomed });
            await helpers.waitFor(
              () =>
                helpers
                  .adminApis(c1)
                  .core.readNamespace({ name: doomed })
                  .then(
                    () => false,
                    (e: { code?: number }) => e.code === 404,
                  ),
              60_000,
              200,
            );
          }
          return inner.connect(cluster);
        },
      }),
    });
    const report = await engine.run({ trigger: 'rotation', secrets: [secret.name], dryRun: false, restart: true });
    collect(report);
    return { report, namespaces, doomed, c1, c2 };
  }

  it('fails only that namespace, naming it; the other namespaces and clusters are written', async () => {
    const { report, namespaces, doomed, c1, c2 } = await scenario(helpers.syncKubeConfigPath());
    const failed = report.results.filter((r) => r.action === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.cluster).toBe(c1);
    expect(failed[0]?.namespace).toBe(doomed);
    // The RoleBinding lived in the namespace: least privilege sees 403 before 404.
    expect(failed[0]?.error?.code).toBe('Forbidden');
    expect(failed[0]?.error?.message).toContain(`namespace "${doomed}" of cluster "${c1}"`);
    expect(report.results.filter((r) => r.action === 'created')).toHaveLength(5);
    for (const ns of namespaces) {
      expect(await helpers.findSecret(c2, ns, 'survivor')).toBeDefined();
      if (ns !== doomed) expect(await helpers.findSecret(c1, ns, 'survivor')).toBeDefined();
    }
  });

  it('reports NamespaceNotFound naming it when the identity may see that the namespace is gone', async () => {
    // The admin identity (cluster-wide rights) gets the API server's 404 for the namespace itself.
    const { report, doomed, c1 } = await scenario(helpers.stack().kubeconfig);
    const failed = report.results.filter((r) => r.action === 'failed');
    expect(failed.map((r) => [r.cluster, r.namespace, r.error?.code])).toEqual([[c1, doomed, 'NamespaceNotFound']]);
    expect(failed[0]?.error?.message).toBe(`namespace "${doomed}" not found in cluster "${c1}"`);
  });
});

describe('leakage', () => {
  it('no seeded value appears in any log line, metric, report or error of this file', () => {
    expect(guard.seedCount).toBeGreaterThan(10);
    expect(guard.hits([output.text(), ...engineLines].join('\n'))).toEqual([]);
  });
});
