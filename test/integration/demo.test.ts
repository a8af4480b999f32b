/**
 * `npm run demo` end to end, non-interactively: its account of what it wrote and restarted (down to the pods that
 * replaced the old ones) must match the clusters, read back with the stack's kubectl.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { stack } from '../support/stack.js';

const run = promisify(execFile);

interface Summary {
  clusters: string[];
  namespace: string;
  secret: string;
  rotation: { results: Array<{ cluster: string; action: string; changedKeys?: string[]; hash?: string }> };
  redelivery: { results: Array<{ action: string; restarted: unknown[] }>; summary: { restarts: number } };
  restarted: Array<{
    cluster: string;
    kind: string;
    name: string;
    from?: string;
    to?: string;
    podsBefore: Array<{ name: string; uid: string }>;
    podsAfter: Array<{ name: string; uid: string }>;
    rolledOut: boolean;
  }>;
  untouched: Array<{ cluster: string; kind: string; name: string; revision?: string }>;
  changedOnRedelivery: string[];
}

function kubectl(cluster: string, ...args: string[]): string {
  const info = stack();
  return execFileSync(
    join(info.kubectlDir, 'kubectl'),
    ['--kubeconfig', info.kubeconfig, '--context', cluster, ...args],
    {
      encoding: 'utf8',
    },
  );
}

describe('npm run demo', () => {
  it('rotates, restarts exactly the consumers once, and its account matches the clusters', {
    timeout: 180_000,
  }, async () => {
    // Act
    const file = join(mkdtempSync(join(tmpdir(), 'eks-sync-demo-')), 'summary.json');
    const { stdout } = await run('npm', ['run', '--silent', 'demo', '--', '--summary', file], {
      env: process.env,
      maxBuffer: 10 * 1024 * 1024,
    });
    const summary = JSON.parse(readFileSync(file, 'utf8')) as Summary;

    // Assess: the account
    expect(stdout).toContain('nothing written, nothing restarted');
    expect(summary.rotation.results.map((r) => r.action)).toEqual(['updated', 'updated']);
    expect(summary.rotation.results.every((r) => r.changedKeys?.join() === 'password')).toBe(true);
    expect(summary.redelivery.results.map((r) => r.action)).toEqual(['unchanged', 'unchanged']);
    expect(summary.redelivery.summary.restarts).toBe(0);
    expect(summary.changedOnRedelivery).toEqual([]);
    expect(summary.restarted.map((r) => `${r.cluster}/${r.kind}/${r.name}`).sort()).toEqual(
      summary.clusters
        .flatMap((c) =>
          ['DaemonSet/agent', 'Deployment/web', 'Deployment/worker', 'StatefulSet/db'].map((w) => `${c}/${w}`),
        )
        .sort(),
    );
    expect(summary.untouched.map((u) => `${u.cluster}/${u.kind}/${u.name}`)).toEqual(
      summary.clusters.map((c) => `${c}/Deployment/unrelated`),
    );

    // Assess: the clusters, through kubectl
    for (const cluster of summary.clusters) {
      const secret = JSON.parse(
        kubectl(cluster, '-n', summary.namespace, 'get', 'secret', summary.secret, '-o', 'json'),
      );
      expect(secret.metadata.labels['app.kubernetes.io/managed-by']).toBe('eks-secret-sync');
      expect(Object.keys(secret.data).sort()).toEqual(['host', 'password', 'username']);
      expect(secret.metadata.annotations['eks-secret-sync.io/version-id']).toBeDefined();
      for (const r of summary.restarted.filter((x) => x.cluster === cluster)) {
        expect(r.to).toBeDefined();
        expect(r.to).not.toBe(r.from);
        // Its pods were really replaced: none of the old ones is left, and the new ones run and are Ready.
        expect(r.rolledOut).toBe(true);
        expect(r.podsBefore.length).toBeGreaterThan(0);
        expect(r.podsAfter).toHaveLength(r.podsBefore.length);
        const oldUids = r.podsBefore.map((p) => p.uid);
        expect(r.podsAfter.filter((p) => oldUids.includes(p.uid))).toEqual([]);
        for (const pod of r.podsAfter) {
          const live = JSON.parse(kubectl(cluster, '-n', summary.namespace, 'get', 'pod', pod.name, '-o', 'json'));
          expect(live.metadata.uid).toBe(pod.uid);
          expect(live.status.conditions.find((c: { type: string }) => c.type === 'Ready')?.status).toBe('True');
        }
        const kind = r.kind === 'Deployment' ? 'replicaset' : 'controllerrevision';
        // The new revision the demo names exists, and it is the newest one of its workload.
        expect(kubectl(cluster, '-n', summary.namespace, 'get', kind, r.to as string, '-o', 'name')).toContain(r.to);
        const template = JSON.parse(
          kubectl(cluster, '-n', summary.namespace, 'get', r.kind.toLowerCase(), r.name, '-o', 'json'),
        ).spec.template.metadata.annotations;
        expect(template['eks-secret-sync.io/secret.app-db']).toBe(
          summary.rotation.results.find((x) => x.cluster === cluster)?.hash,
        );
      }
      const unrelated = JSON.parse(
        kubectl(cluster, '-n', summary.namespace, 'get', 'deployment', 'unrelated', '-o', 'json'),
      );
      expect(unrelated.metadata.generation).toBe(1);
      expect(unrelated.spec.template.metadata.annotations ?? {}).toEqual({});
    }
  });
});
