/**
 * The Kubernetes calls one binding costs in a rotation, against the floor of one GET, one write, one round of
 * workload LISTs and one restart PATCH (plus the restart-pending marker's PATCH and the Events), and which of them
 * run at once.
 */
import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/index.js';
import type { SyncRequest } from '../../lib/domain/request.js';
import { WORKLOAD_KINDS } from '../../lib/sync/apply/restarter.js';
import { SyncEngine } from '../../lib/sync/engine.js';
import type { BindingResult } from '../../lib/sync/types.js';
import { envFromSpec, FakeConnector, FakeKubeApi, FakeSecretSource, type KubeMethod } from '../support/fakes.js';

const NOW = new Date('2025-05-01T10:00:00.000Z');

const TWO_SECRETS = `
clusters:
  eu: { eks: { name: eu, region: eu-west-1 } }
syncs:
  - source: { secret: app/db }
    targets: [{ clusters: [eu], namespaces: [app], secret: db }]
  - source: { secret: app/api }
    targets: [{ clusters: [eu], namespaces: [app], secret: api }]
`;

function rotation(secrets: string[]): SyncRequest {
  return { trigger: 'rotation', dryRun: false, restart: true, secrets };
}

/** An engine over one cluster `eu` with namespace `app`, and what the log was told. */
function world(yaml = TWO_SECRETS) {
  const api = new FakeKubeApi('eu', { namespaces: ['app'] });
  const source = new FakeSecretSource();
  const told: Array<{ result: BindingResult; eventsRecorded: number }> = [];
  const log = {
    info: () => {},
    warn: () => {},
    result: (result: BindingResult) => told.push({ result, eventsRecorded: api.calls('recordEvent') }),
  };
  const engine = new SyncEngine({
    config: parseConfig(yaml),
    source,
    clusters: new FakeConnector([api]),
    now: () => NOW,
    log,
  });
  return { api, source, engine, told };
}

/** The most calls of `method` that were in flight at once (counted from the fake's `before` hook). */
function overlapOf(api: FakeKubeApi, method: KubeMethod): { max: number } {
  const seen = { max: 0 };
  let current = 0;
  api.before = async (called) => {
    if (called !== method) return;
    current += 1;
    seen.max = Math.max(seen.max, current);
    // Hold the call for a turn of the event loop, so that calls started together are seen together.
    await tick();
    current -= 1;
  };
  return seen;
}

describe('a binding in a rotation', () => {
  it('costs one GET, one write, one round of LISTs (one per kind), one restart PATCH, the marker PATCH and its Events', async () => {
    // Prepare
    const w = world();
    w.source.put('app/db', { a: '1' });
    w.api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });
    await w.engine.run(rotation(['app/db']));
    const versionId = w.source.put('app/db', { a: '2' });
    w.api.book.reset();

    // Act
    const report = await w.engine.run({ ...rotation(['app/db']), versionId });

    // Assess
    expect(report.summary).toMatchObject({ updated: 1, failed: 0, restarts: 1 });
    const calls = Object.fromEntries(w.api.book.calls);
    expect(calls).toEqual({
      getSecret: 1,
      replaceSecret: 1,
      listWorkloads: WORKLOAD_KINDS.length,
      patchTemplateAnnotations: 1,
      clearSecretAnnotation: 1,
      // Synced and Restarted, then RolledOut once the rollout check found web ready.
      recordEvent: 3,
      readWorkloadStatus: 1,
    });
  });

  it('lists the workloads of a namespace once for all its Secrets, and patches a shared consumer once', async () => {
    // Prepare
    const w = world();
    w.source.put('app/db', { a: '1' });
    w.source.put('app/api', { b: '1' });
    w.api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db', 'api') });
    w.api.seedWorkload({ kind: 'StatefulSet', namespace: 'app', name: 'pg', podSpec: envFromSpec('db') });

    // Act
    const report = await w.engine.run(rotation(['app/db', 'app/api']));

    // Assess
    expect(report.summary).toMatchObject({ created: 2, failed: 0 });
    expect(w.api.calls('listWorkloads')).toBe(WORKLOAD_KINDS.length);
    expect(w.api.templatePatches().map((p) => p.name)).toEqual(['web', 'pg']);
  });

  it('runs the workload LISTs of a namespace (one per kind) at once', async () => {
    // Prepare
    const w = world();
    w.source.put('app/db', { a: '1' });
    w.api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });
    const lists = overlapOf(w.api, 'listWorkloads');

    // Act
    await w.engine.run(rotation(['app/db']));

    // Assess
    expect(w.api.calls('listWorkloads')).toBe(WORKLOAD_KINDS.length);
    // As many at once as the cluster's call limiter allows (bindingConcurrency, 4 by default).
    expect(lists.max).toBe(Math.min(WORKLOAD_KINDS.length, 4));
  });

  it('patches distinct consumers at once', async () => {
    // Prepare
    const w = world();
    w.source.put('app/db', { a: '1' });
    w.api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });
    w.api.seedWorkload({ kind: 'StatefulSet', namespace: 'app', name: 'pg', podSpec: envFromSpec('db') });
    const patches = overlapOf(w.api, 'patchTemplateAnnotations');

    // Act
    const report = await w.engine.run(rotation(['app/db']));

    // Assess
    expect(report.summary).toMatchObject({ restarts: 2, failed: 0 });
    expect(patches.max).toBe(2);
  });

  it("clears the namespace's restart markers at once", async () => {
    // Prepare
    const w = world();
    w.source.put('app/db', { a: '1' });
    w.source.put('app/api', { b: '1' });
    w.api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db', 'api') });
    const clears = overlapOf(w.api, 'clearSecretAnnotation');

    // Act
    const report = await w.engine.run(rotation(['app/db', 'app/api']));

    // Assess
    expect(report.summary).toMatchObject({ created: 2, failed: 0 });
    expect(w.api.calls('clearSecretAnnotation')).toBe(2);
    expect(clears.max).toBe(2);
  });

  it("tells the log a namespace's results before its Events are recorded, and records them before the pass ends", async () => {
    // Prepare
    const w = world();
    w.source.put('app/db', { a: '1' });
    w.api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });

    // Act
    await w.engine.run(rotation(['app/db']));

    // Assess
    expect(w.told.map((t) => t.eventsRecorded)).toEqual([0]);
    expect(w.api.events().map((e) => e.reason)).toEqual(['Synced', 'Restarted', 'RolledOut']);
  });
});
