import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/index.js';
import { CHANGE_CAUSE_ANNOTATION } from '../../lib/domain/names.js';
import type { SyncRequest } from '../../lib/domain/request.js';
import { SyncError } from '../../lib/errors.js';
import { eventName, MAX_NOTE_LENGTH, syncFailedEvent } from '../../lib/sync/apply/events.js';
import { SyncEngine } from '../../lib/sync/engine.js';
import type { BindingResult } from '../../lib/sync/types.js';
import { expectNoSecretValueIn } from '../support/assertions.js';
import { envFromSpec, FakeConnector, FakeKubeApi, FakeSecretSource } from '../support/fakes.js';
import { CANARY, eksClusters, NOW } from '../support/fixtures.js';

const CONFIG = `${eksClusters('eu')}syncs:
  - source: { secret: prod/db }
    targets:
      - clusters: [eu]
        namespaces: [payments]
        secret: db
        keys: { DB_USER: username, DB_PASSWORD: password }
`;

function world() {
  const api = new FakeKubeApi('eu', { namespaces: ['payments'] });
  const source = new FakeSecretSource();
  const warnings: Array<{ message: string; attributes?: Record<string, unknown> }> = [];
  let clock = NOW.getTime();
  const engine = new SyncEngine({
    config: parseConfig(CONFIG),
    source,
    clusters: new FakeConnector([api]),
    now: () => new Date(clock),
    log: { info: () => {}, warn: (message, attributes) => warnings.push({ message, attributes }) },
    reportingInstance: 'on-rotation',
  });
  const later = (ms: number) => {
    clock += ms;
  };
  return { api, source, engine, warnings, later };
}

function request(overrides: Partial<SyncRequest> = {}): SyncRequest {
  return { trigger: 'rotation', dryRun: false, restart: true, ...overrides };
}

describe('Kubernetes Events of a pass', () => {
  it('records Synced on the Secret and Restarted on its consumer, naming versions and key names only', async () => {
    // Prepare
    const w = world();
    const version = w.source.put('prod/db', { username: 'svc-user-77a1', password: CANARY });
    const web = w.api.seedWorkload({ namespace: 'payments', name: 'web', podSpec: envFromSpec('db') });

    // Act
    await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    const secret = w.api.secret('payments', 'db');
    const events = w.api.events();
    expect(events).toEqual([
      expect.objectContaining({
        namespace: 'payments',
        regarding: { kind: 'Secret', namespace: 'payments', name: 'db', uid: secret?.uid },
        type: 'Normal',
        reason: 'Synced',
        action: 'Sync',
        note: `Created from ${w.source.arnOf('prod/db')} version ${version}; changed keys: DB_PASSWORD, DB_USER`,
        reportingInstance: 'on-rotation',
        count: 1,
      }),
      expect.objectContaining({
        regarding: { kind: 'Deployment', namespace: 'payments', name: 'web', uid: web.uid },
        type: 'Normal',
        reason: 'Restarted',
        action: 'Restart',
        note: `Rolling restart for Secret payments/db version ${version}`,
      }),
      // Then the rollout check's verdict (the fake's pods are available at once).
      expect.objectContaining({
        regarding: { kind: 'Deployment', namespace: 'payments', name: 'web', uid: web.uid },
        type: 'Normal',
        reason: 'RolledOut',
        action: 'Rollout',
      }),
    ]);
    expectNoSecretValueIn(events, CANARY, 'svc-user-77a1');
  });

  it('sets the change cause on the restarted workload in the same patch', async () => {
    // Prepare
    const w = world();
    const version = w.source.put('prod/db', { username: 'u', password: CANARY });
    w.api.seedWorkload({ namespace: 'payments', name: 'web', podSpec: envFromSpec('db') });

    // Act
    await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    expect(w.api.workload('payments', 'web').annotations[CHANGE_CAUSE_ANNOTATION]).toBe(
      `eks-secret-sync: Secret payments/db version ${version}`,
    );
    expect(w.api.calls('patchTemplateAnnotations')).toBe(1);
  });

  it('records nothing when a pass (a reconcile, a duplicate event) finds everything unchanged', async () => {
    // Prepare
    const w = world();
    w.source.put('prod/db', { username: 'u', password: CANARY });
    w.api.seedWorkload({ namespace: 'payments', name: 'web', podSpec: envFromSpec('db') });
    await w.engine.run(request({ secrets: ['prod/db'] }));
    w.api.book.reset();

    // Act
    await w.engine.run(request({ secrets: ['prod/db'] }));
    await w.engine.run(request({ trigger: 'reconcile' }));

    // Assess
    expect(w.api.calls('recordEvent')).toBe(0);
    expect(w.api.writes()).toBe(0);
    expect(w.api.events()).toHaveLength(3);
  });

  it('records nothing in a dry run', async () => {
    // Prepare
    const w = world();
    w.source.put('prod/db', { username: 'u', password: CANARY });
    w.api.seedWorkload({ namespace: 'payments', name: 'web', podSpec: envFromSpec('db') });

    // Act
    await w.engine.run(request({ secrets: ['prod/db'], dryRun: true }));

    // Assess
    expect(w.api.calls('recordEvent')).toBe(0);
  });

  it('counts a repeated identical failure into one Warning Event series instead of adding Events', async () => {
    // Prepare: a Secret of the same name that is not ours.
    const w = world();
    w.source.put('prod/db', { username: 'u', password: CANARY });
    const foreign = w.api.seedSecret({ namespace: 'payments', name: 'db', data: { other: 'eA==' } });

    // Act
    await w.engine.run(request({ secrets: ['prod/db'] }));
    w.later(60_000);
    await w.engine.run(request({ trigger: 'reconcile' }));

    // Assess
    const events = w.api.events();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      regarding: { kind: 'Secret', name: 'db', uid: foreign.uid },
      type: 'Warning',
      reason: 'SyncFailed',
      count: 2,
      lastObservedTime: new Date(NOW.getTime() + 60_000),
    });
    expect(events[0]?.note).toMatch(/^NotManaged: Secret payments\/db in cluster "eu" exists and is not managed/);
    expectNoSecretValueIn(events, CANARY);
  });

  it('names the Secret by uid in a SyncFailed Event for a source that could not be read', async () => {
    // Prepare: synced once, then the source fails.
    const w = world();
    w.source.put('prod/db', { username: 'u', password: CANARY });
    await w.engine.run(request({ secrets: ['prod/db'] }));
    w.source.fail('getCurrent', () => new SyncError('SourceError', 'secret "prod/db": AccessDeniedException'));

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    expect(report.results[0]?.action).toBe('failed');
    const failed = w.api.events().find((e) => e.reason === 'SyncFailed');
    expect(failed).toMatchObject({ regarding: { uid: w.api.secret('payments', 'db')?.uid }, type: 'Warning' });
    expect(failed?.note).toContain('AccessDeniedException');
  });

  it('never fails a binding over an Event that could not be recorded, and says so in a warning', async () => {
    // Prepare
    const w = world();
    w.source.put('prod/db', { username: 'u', password: CANARY });
    w.api.fail('recordEvent', () => new SyncError('KubernetesError', 'create events in payments: 500'), { times: 5 });

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    expect(report.results[0]?.action).toBe('created');
    expect(report.summary.failed).toBe(0);
    expect(w.warnings).toEqual([
      {
        message: 'event not recorded',
        attributes: expect.objectContaining({ cluster: 'eu', namespace: 'payments', reason: 'Synced' }),
      },
    ]);
  });

  it('tries no Event where the binding failed for lack of access to the namespace', async () => {
    // Prepare
    const w = world();
    w.source.put('prod/db', { username: 'u', password: CANARY });
    w.api.forbidden.add('payments');

    // Act
    const report = await w.engine.run(request({ secrets: ['prod/db'] }));

    // Assess
    expect(report.results[0]?.error?.code).toBe('Forbidden');
    expect(w.api.calls('recordEvent')).toBe(0);
    expect(w.warnings).toEqual([]);
  });
});

describe('eventName', () => {
  const failed: BindingResult = {
    cluster: 'eu',
    namespace: 'payments',
    secret: 'db',
    source: 'prod/db',
    action: 'failed',
    restarted: [],
    error: { code: 'NotManaged', message: 'not ours' },
  };

  it('is the same for identical Events at different times, and differs when the content does', () => {
    // Act
    const a = syncFailedEvent(failed, 'uid-1', 'on-rotation', new Date(0));
    const b = syncFailedEvent(failed, 'uid-1', 'on-rotation', new Date(60_000));
    const c = syncFailedEvent({ ...failed, error: { code: 'Immutable', message: 'x' } }, 'uid-1', 'on-rotation', NOW);
    const d = syncFailedEvent(failed, 'uid-2', 'on-rotation', new Date(0));

    // Assess
    expect(a.name).toBe(b.name);
    expect(new Set([a.name, c.name, d.name]).size).toBe(3);
    expect(a.name).toMatch(/^db\.[0-9a-f]{16}$/);
  });

  it('stays a valid name for the longest Secret names and caps the note at 1 kB', () => {
    // Prepare
    const long = {
      ...failed,
      secret: 'a'.repeat(253),
      error: { code: 'Internal' as const, message: 'm'.repeat(5000) },
    };

    // Act
    const event = syncFailedEvent(long, undefined, 'cli', NOW);

    // Assess
    expect(event.name.length).toBeLessThanOrEqual(253);
    expect(event.note.length).toBe(MAX_NOTE_LENGTH);
    expect(eventName(event)).toBe(event.name);
  });
});
