/**
 * The pass deadline on the real stack: a cluster whose API server completes the TLS handshake and never answers
 * (a loopback TLS listener with the stack's serving certificate) next to two healthy clusters, driven through the
 * real onRotation handler with a Lambda context whose remaining time is short; the same through the CLI's
 * `--timeout`; and a pass whose Deployment lists never answer, cut after the Secret write and before the restart.
 * Runs as the least-privilege `eks-secret-sync` identity.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { runCli } from '../../../lib/cli/run.js';
import { RESTART_PENDING_ANNOTATION } from '../../../lib/domain/names.js';
import {
  type KubeFaultProxy,
  type SilentServer,
  startKubeFaultProxy,
  startSilentServer,
} from '../../support/fault-proxy.js';
import { lambdaContext } from '../../support/lambda.js';
import { deployment } from '../../support/workloads.js';
import * as helpers from './helpers.js';

const { output, guard, run, value: seeded } = helpers.reliabilityRun();
const k8sName = 'app-db';
/** What the short invocation has left when it starts: onRotation's pass deadline is 3 s before its end. */
const REMAINING_MS = 12_000;

let clusters: [string, string, string];
let silent: SilentServer;
let namespaces: string[];
let rotation: helpers.Handler;
let silentPath: string;

/** Template patches a Deployment received since it was created (each one is a rollout). */
async function restarts(cluster: string, namespace: string, name = 'web'): Promise<number> {
  const web = await helpers.adminApis(cluster).apps.readNamespacedDeployment({ namespace, name });
  return (web.metadata?.generation ?? 1) - 1;
}

async function password(cluster: string, namespace: string, name = k8sName): Promise<string | undefined> {
  const secret = await helpers.findSecret(cluster, namespace, name);
  return secret === undefined ? undefined : Buffer.from(secret.data?.password ?? '', 'base64').toString('utf8');
}

/** The JSON lines of the captured output with `message` (Powertools log lines and EMF metric lines). */
function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/**
 * stack-1 and stack-2 as usual and stack-3 through `kubeconfig` (a silent listener or a proxy), with request timeouts
 * far above the deadline: here the pass deadline, not a request timeout, ends the wait.
 */
function configVia(kubeconfig: string, secret: string, namespaces: readonly string[], target: string): string {
  const [stack1, stack2, stack3] = clusters;
  return `clusters:
${helpers.kubeconfigClusters([stack1, stack2])}
  ${stack3}:
    kubeconfig: { path: ${kubeconfig}, context: ${stack3} }
    timeouts: { connectMs: 120000, headersMs: 120000, bodyMs: 120000 }
syncs:
  - source: { secret: ${secret} }
    targets:
      - { clusters: [${clusters.join(', ')}], namespaces: [${namespaces.join(', ')}], secret: ${target} }
`;
}

beforeAll(async () => {
  const info = helpers.stack();
  clusters = [info.clusters[0] as string, info.clusters[1] as string, info.clusters[2] as string];
  const stack3 = clusters[2];
  // The listener presents the stack's own serving certificate (SAN 127.0.0.1): TLS verification passes, then
  // nothing is ever answered. Healed, it forwards to stack-3's real API server.
  const pki = join(info.stackDir, 'pki');
  silent = await startSilentServer({
    key: readFileSync(join(pki, 'serving.key')),
    cert: readFileSync(join(pki, 'serving.crt')),
    forwardTo: Number(new URL(info.servers[stack3] as string).port),
  });
  const kubeconfig = parse(readFileSync(helpers.syncKubeConfigPath(), 'utf8')) as {
    clusters: Array<{ name: string; cluster: { server: string } }>;
  };
  for (const entry of kubeconfig.clusters) {
    if (entry.name === stack3) entry.cluster.server = `https://127.0.0.1:${silent.port}`;
  }
  silentPath = helpers.tempFile('silent.kubeconfig', stringify(kubeconfig));

  namespaces = await helpers.namespacesWithWeb(clusters, 2, 'rel-deadline', k8sName);
  const config = configVia(silentPath, `rel/deadline-${run}/db`, namespaces, k8sName);
  rotation = await helpers.loadFunction('on-rotation', config);
});

afterAll(async () => {
  await silent?.close();
});

describe('a cluster that accepts TLS and never answers', () => {
  it('reports the healthy clusters, fails the silent one with DeadlineExceeded before the invocation ends, and the retry heals it', async () => {
    // Prepare
    const [stack1, stack2, stack3] = clusters;
    const value = seeded('deadline');
    const secret = await helpers.createSecret(`rel/deadline-${run}/db`, value);
    const event = helpers.labelEvent(secret, secret.versionId);
    const logStart = output.text().length;

    // Act: an invocation with 12 s left, as Lambda would give after a slow start.
    const started = performance.now();
    const first = await rotation(event, lambdaContext('onRotation', REMAINING_MS)).then(
      (result) => ({ result, error: undefined }),
      (error: Error & { report?: helpers.Report }) => ({ result: undefined, error }),
    );
    const elapsed = performance.now() - started;
    guard.collect(first.error);

    // Assess: it settled before the context's remaining time ran out (the platform would have killed it).
    expect(elapsed).toBeLessThan(REMAINING_MS);
    expect(silent.accepted).toBeGreaterThan(0);
    expect(first.error?.message).toMatch(/bindings failed/);
    const report = first.error?.report as helpers.Report;
    for (const namespace of namespaces) {
      for (const cluster of [stack1, stack2]) {
        const r = report.results.find((x) => x.cluster === cluster && x.namespace === namespace);
        expect(r, `${cluster}/${namespace}`).toMatchObject({
          action: 'created',
          restarted: [{ kind: 'Deployment', name: 'web' }],
        });
        expect(await password(cluster, namespace)).toBe(value.password);
      }
      const cut = report.results.find((x) => x.cluster === stack3 && x.namespace === namespace);
      expect(cut?.action).toBe('failed');
      expect(cut?.error?.code).toBe('DeadlineExceeded');
      expect(cut?.error?.message).toContain(
        `pass deadline reached for cluster "${stack3}" during read Secret (Secret ${namespace}/${k8sName})`,
      );
      expect(await password(stack3, namespace)).toBeUndefined();
    }
    expect(report.summary).toMatchObject({ created: 4, failed: 2, restarts: 4 });
    // What finished was logged binding by binding, and counted in metrics, before the handler threw.
    const lines = jsonLines(output.text().slice(logStart));
    const bindingLines = lines.filter((l) => typeof l.message === 'string' && l.message.startsWith('binding '));
    expect(bindingLines.filter((l) => l.message === 'binding created')).toHaveLength(4);
    expect(bindingLines.filter((l) => l.message === 'binding failed')).toHaveLength(2);
    expect(lines.some((l) => l.message === 'sync finished')).toBe(true);
    const emf = lines.find((l) => l._aws !== undefined && l.DeadlineExceeded !== undefined);
    expect(emf).toMatchObject({ DeadlineExceeded: 2, Synced: 4, Failed: 2 });

    // Act: the API server answers again (its connections reset, as after a restart); the platform retries.
    silent.drop();
    silent.mode = 'forward';
    const retry = (await rotation(event, lambdaContext('onRotation'))) as helpers.Report;

    // Assess: stack-3 is written and restarted; nothing else is touched; every consumer restarted exactly once.
    for (const namespace of namespaces) {
      expect(retry.results.find((x) => x.cluster === stack3 && x.namespace === namespace)).toMatchObject({
        action: 'created',
        restarted: [{ kind: 'Deployment', name: 'web' }],
      });
      for (const cluster of [stack1, stack2]) {
        expect(retry.results.find((x) => x.cluster === cluster && x.namespace === namespace)).toMatchObject({
          action: 'unchanged',
          restarted: [],
        });
      }
      for (const cluster of clusters) {
        expect(await restarts(cluster, namespace), `${cluster}/${namespace}`).toBe(1);
        expect(await password(cluster, namespace)).toBe(value.password);
      }
    }
    guard.collect(retry);
    expect(guard.hits(output.text())).toEqual([]);
  });
});

describe('the CLI with --timeout', () => {
  it('prints what finished and fails the silent cluster with DeadlineExceeded, exit 1', async () => {
    // Prepare: the listener is silent again for new connections (the CLI connects afresh).
    const [stack1, stack2, stack3] = clusters;
    silent.mode = 'silent';
    silent.drop();
    const value = seeded('deadline-cli');
    const secret = await helpers.createSecret(`rel/deadline-${run}/cli`, value);
    const config = helpers.tempFile('cli.yaml', configVia(silentPath, secret.name, namespaces, 'cli-db'));
    const out = { stdout: '', stderr: '' };
    const accepted = silent.accepted;

    // Act
    const started = performance.now();
    const code = await runCli(['backfill', '--config', config, '--timeout', '5s', '--json'], {
      stdout: (t) => {
        out.stdout += t;
      },
      stderr: (t) => {
        out.stderr += t;
      },
      env: process.env,
      cwd: process.cwd(),
    });
    const elapsed = performance.now() - started;

    // Assess: the deadline ended it (not the 120 s request timeouts), with everything that finished reported (with
    // --json the report on stdout is the whole answer: no progress lines on stderr).
    expect(code).toBe(1);
    expect(elapsed).toBeLessThan(60_000);
    expect(silent.accepted).toBeGreaterThan(accepted);
    const report = JSON.parse(out.stdout) as helpers.Report;
    for (const namespace of namespaces) {
      for (const cluster of [stack1, stack2]) {
        expect(report.results.find((r) => r.cluster === cluster && r.namespace === namespace)?.action).toBe('created');
      }
      const cut = report.results.find((r) => r.cluster === stack3 && r.namespace === namespace);
      expect(cut?.error?.code).toBe('DeadlineExceeded');
      expect(cut?.error?.message).toContain(`for cluster "${stack3}" during read Secret (Secret ${namespace}/cli-db)`);
    }
    guard.collect(report);
    expect(guard.hits(out.stdout + out.stderr + output.text())).toEqual([]);
  });
});

describe('a pass cut after the write, before the restart', () => {
  let proxy: KubeFaultProxy;

  afterAll(async () => {
    await proxy?.close();
  });

  it('leaves the Secret marked restart-pending, and the retry restarts its consumers exactly once', async () => {
    // Prepare: stack-3 behind an HTTPS proxy that swallows every Deployment list (reads and writes of Secrets pass).
    const info = helpers.stack();
    const [stack1, stack2, stack3] = clusters;
    const pki = join(info.stackDir, 'pki');
    proxy = await startKubeFaultProxy(info.servers[stack3] as string, {
      key: readFileSync(join(pki, 'serving.key')),
      cert: readFileSync(join(pki, 'serving.crt')),
      ca: readFileSync(info.caFile),
    });
    const kubeconfig = parse(readFileSync(helpers.syncKubeConfigPath(), 'utf8')) as {
      clusters: Array<{ name: string; cluster: { server: string } }>;
    };
    for (const entry of kubeconfig.clusters) if (entry.name === stack3) entry.cluster.server = proxy.url;
    const proxied = helpers.tempFile('proxied.kubeconfig', stringify(kubeconfig));
    const { name: namespace } = await helpers.freshNamespace(clusters, { prefix: 'rel-deadline-mark' });
    for (const cluster of clusters) {
      await helpers.adminApis(cluster).apps.createNamespacedDeployment({
        namespace,
        body: deployment('worker', 'mark-db', 'envFrom'),
      });
    }
    const value = seeded('deadline-mark');
    const secret = await helpers.createSecret(`rel/deadline-${run}/mark`, value);
    const handler = await helpers.loadFunction('on-rotation', configVia(proxied, secret.name, [namespace], 'mark-db'));
    proxy.inject({ kind: 'blackhole', times: 1_000, method: 'GET', path: '/deployments' });
    const event = helpers.labelEvent(secret, secret.versionId);

    // Act
    const first = await handler(event, lambdaContext('onRotation', REMAINING_MS)).then(
      () => undefined,
      (error: Error & { report?: helpers.Report }) => error,
    );
    guard.collect(first);

    // Assess: written, not restarted, reported as such; the marker is left for the retry.
    const cut = first?.report?.results.find((r) => r.cluster === stack3);
    expect(cut?.action).toBe('failed');
    expect(cut?.error?.code).toBe('DeadlineExceeded');
    expect(cut?.error?.message).toMatch(
      new RegExp(
        `^Secret created, restart failed: pass deadline reached for cluster "${stack3}" during list consumers`,
      ),
    );
    expect(await password(stack3, namespace, 'mark-db')).toBe(value.password);
    const written = await helpers.adminApis(stack3).core.readNamespacedSecret({ namespace, name: 'mark-db' });
    expect(written.metadata?.annotations?.[RESTART_PENDING_ANNOTATION]).toBeDefined();
    expect(await restarts(stack3, namespace, 'worker')).toBe(0);
    for (const cluster of [stack1, stack2]) {
      expect(first?.report?.results.find((r) => r.cluster === cluster)?.action).toBe('created');
    }

    // Act: the server answers lists again; the platform retries the event.
    proxy.reset();
    const retry = (await handler(event, lambdaContext('onRotation'))) as helpers.Report;

    // Assess
    expect(retry.results.find((r) => r.cluster === stack3)).toMatchObject({
      action: 'unchanged',
      restarted: [{ kind: 'Deployment', name: 'worker' }],
    });
    const healed = await helpers.adminApis(stack3).core.readNamespacedSecret({ namespace, name: 'mark-db' });
    expect(healed.metadata?.annotations?.[RESTART_PENDING_ANNOTATION]).toBeUndefined();
    for (const cluster of clusters) expect(await restarts(cluster, namespace, 'worker'), cluster).toBe(1);
    guard.collect(retry);
    expect(guard.hits(output.text())).toEqual([]);
  });
});
