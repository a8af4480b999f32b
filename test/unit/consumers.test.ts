import { describe, expect, it } from 'vitest';
import { type ConsumedSecret, consumes, RELOADER_RELOAD, referencedSecrets } from '../../lib/sync/apply/consumers.js';
import type { PodSpecRefs, Workload } from '../../lib/sync/ports/kube.js';

function workload(podSpec: PodSpecRefs, annotations: Record<string, string> = {}): Workload {
  return {
    kind: 'Deployment',
    namespace: 'app',
    name: 'web',
    paused: false,
    annotations,
    templateAnnotations: {},
    podSpec,
    resourceVersion: '1',
    uid: 'uid-web',
  };
}

/** A Secret as the restarter sees it: its name and annotations. */
function secret(name: string, annotations: Record<string, string> = {}): ConsumedSecret {
  return { name, annotations };
}

describe('referencedSecrets', () => {
  it.each<[string, PodSpecRefs]>([
    ['env secretKeyRef', { containers: [{ env: [{ valueFrom: { secretKeyRef: { name: 'db' } } }] }] }],
    ['envFrom secretRef', { containers: [{ envFrom: [{ secretRef: { name: 'db' } }] }] }],
    ['a secret volume', { volumes: [{ secret: { secretName: 'db' } }] }],
    ['a projected volume', { volumes: [{ projected: { sources: [{}, { secret: { name: 'db' } }] } }] }],
    ['an initContainer env', { initContainers: [{ env: [{ valueFrom: { secretKeyRef: { name: 'db' } } }] }] }],
    ['an initContainer envFrom', { initContainers: [{ envFrom: [{ secretRef: { name: 'db' } }] }] }],
  ])('finds a Secret referenced by %s', (_label, spec) => {
    // Act
    const names = referencedSecrets(spec);

    // Assess
    expect([...names]).toEqual(['db']);
  });

  it('collects every Secret of a pod spec once and ignores plain env and other volumes', () => {
    // Prepare
    const spec: PodSpecRefs = {
      containers: [
        { env: [{}, { valueFrom: {} }, { valueFrom: { secretKeyRef: { name: 'a' } } }], envFrom: [{}] },
        { envFrom: [{ secretRef: { name: 'b' } }, { secretRef: { name: 'a' } }] },
      ],
      volumes: [{}, { secret: {} }, { secret: { secretName: 'c' } }],
    };

    // Act
    const names = referencedSecrets(spec);

    // Assess
    expect([...names].sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('consumes', () => {
  it('is true for a Secret in the pod spec and false for another', () => {
    // Prepare
    const w = workload({ volumes: [{ secret: { secretName: 'db' } }] });

    // Act / Assess
    expect(consumes(w, secret('db'))).toBe(true);
    expect(consumes(w, secret('db2'))).toBe(false);
  });

  it("honours Reloader's secret.reloader.stakater.com/reload list on the workload", () => {
    // Prepare
    const w = workload({}, { [RELOADER_RELOAD]: 'tls-cert, db ,,other' });

    // Act / Assess
    expect(consumes(w, secret('db'))).toBe(true);
    expect(consumes(w, secret('tls-cert'))).toBe(true);
    expect(consumes(w, secret('d'))).toBe(false);
  });
});
