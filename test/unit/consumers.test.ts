import { describe, expect, it } from 'vitest';
import {
  type ConsumedSecret,
  consumes,
  type Discovery,
  RELOADER_AUTO,
  RELOADER_IGNORE,
  RELOADER_MATCH,
  RELOADER_RELOAD,
  RELOADER_SEARCH,
  RELOADER_SECRET_AUTO,
  referencedSecrets,
} from '../../lib/sync/apply/consumers.js';
import type { PodSpecRefs, Workload } from '../../lib/sync/ports/kube.js';

function workload(
  podSpec: PodSpecRefs,
  annotations: Record<string, string> = {},
  templateAnnotations: Record<string, string> = {},
): Workload {
  return {
    kind: 'Deployment',
    namespace: 'app',
    name: 'web',
    paused: false,
    annotations,
    templateAnnotations,
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

/** A pod spec reading Secret `db` through envFrom. */
const READS_DB: PodSpecRefs = { containers: [{ envFrom: [{ secretRef: { name: 'db' } }] }] };

describe("consumes: Reloader's annotations (README, Reloader annotations)", () => {
  it.each<[string, Record<string, string>, Discovery, boolean]>([
    ['no annotation, auto', {}, 'auto', true],
    ['no annotation, annotated', {}, 'annotated', false],
    ['auto "true", annotated', { [RELOADER_AUTO]: 'true' }, 'annotated', true],
    ['auto "True" (Go ParseBool), annotated', { [RELOADER_AUTO]: 'True' }, 'annotated', true],
    ['secret auto "true", annotated', { [RELOADER_SECRET_AUTO]: 'true' }, 'annotated', true],
    ['auto "false", auto (opted out)', { [RELOADER_AUTO]: 'false' }, 'auto', false],
    ['auto "maybe", auto (unrecognized is false)', { [RELOADER_AUTO]: 'maybe' }, 'auto', false],
    ['auto "false" and secret auto "true"', { [RELOADER_AUTO]: 'false', [RELOADER_SECRET_AUTO]: 'true' }, 'auto', true],
    ['search "true" on an unmatched Secret, annotated', { [RELOADER_SEARCH]: 'true' }, 'annotated', false],
    ['search "true" on an unmatched Secret, auto (auto wins)', { [RELOADER_SEARCH]: 'true' }, 'auto', true],
  ])('a workload referencing the Secret with %s: %s', (_label, annotations, discovery, expected) => {
    // Prepare
    const w = workload(READS_DB, annotations);

    // Act / Assess
    expect(consumes(w, secret('db'), discovery)).toBe(expected);
  });

  it('restarts a search workload for a referenced Secret that says match, and not for one it does not reference', () => {
    // Prepare
    const w = workload(READS_DB, { [RELOADER_SEARCH]: 'true' });
    const other = workload({}, { [RELOADER_SEARCH]: 'true' });
    const matched = secret('db', { [RELOADER_MATCH]: 'true' });

    // Act / Assess
    expect(consumes(w, matched, 'annotated')).toBe(true);
    expect(consumes(other, matched, 'annotated')).toBe(false);
    expect(consumes(w, secret('db', { [RELOADER_MATCH]: 'yes' }), 'annotated')).toBe(false);
  });

  it('restarts nothing for a Secret that says ignore, whatever the workload asks', () => {
    // Prepare
    const ignored = secret('db', { [RELOADER_IGNORE]: 'true', [RELOADER_MATCH]: 'true' });
    const workloads = [
      workload(READS_DB),
      workload(READS_DB, { [RELOADER_AUTO]: 'true' }),
      workload({}, { [RELOADER_RELOAD]: 'db' }),
      workload(READS_DB, { [RELOADER_SEARCH]: 'true' }),
    ];

    // Act / Assess
    for (const w of workloads) {
      expect(consumes(w, ignored, 'auto')).toBe(false);
      expect(consumes(w, ignored, 'annotated')).toBe(false);
    }
    expect(consumes(workloads[0] as Workload, secret('db', { [RELOADER_IGNORE]: 'false' }))).toBe(true);
  });

  it('reads reload entries as anchored patterns, and a quantified group or a broken pattern as a plain name', () => {
    // Prepare
    const w = workload({}, { [RELOADER_RELOAD]: 'db-.*, tls' });
    const risky = workload({}, { [RELOADER_RELOAD]: '(a+)+, [broken' });

    // Act / Assess
    expect(consumes(w, secret('db-main'), 'annotated')).toBe(true);
    expect(consumes(w, secret('tls'), 'annotated')).toBe(true);
    expect(consumes(w, secret('tls-2'), 'annotated')).toBe(false);
    expect(consumes(w, secret('old-db-main'), 'annotated')).toBe(false);
    expect(consumes(risky, secret(`${'a'.repeat(40)}b`), 'annotated')).toBe(false);
    expect(consumes(risky, secret('[broken'), 'annotated')).toBe(true);
  });

  it('reads the pod template annotations when the workload metadata carries no Reloader annotation', () => {
    // Prepare
    const onTemplate = workload(READS_DB, {}, { [RELOADER_AUTO]: 'true' });
    const both = workload(READS_DB, { [RELOADER_SEARCH]: 'true' }, { [RELOADER_AUTO]: 'true' });

    // Act / Assess
    expect(consumes(onTemplate, secret('db'), 'annotated')).toBe(true);
    // The metadata speaks (search), so the template's auto is not read.
    expect(consumes(both, secret('db'), 'annotated')).toBe(false);
  });
});
