import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/index.js';
import { VERSION_ANNOTATION } from '../../lib/domain/names.js';
import type { SyncRequest } from '../../lib/domain/request.js';
import { SyncEngine } from '../../lib/sync/engine.js';
import type { BindingResult, SyncReport } from '../../lib/sync/types.js';
import { b64, envFromSpec, FakeConnector, FakeKubeApi, FakeSecretSource } from '../support/fakes.js';

const CANARY = 'pa55-CANARY-wave-77';

const WAVES = `
clusters:
  a: { eks: { name: a, region: eu-west-1 } }
  b: { eks: { name: b, region: eu-west-1 } }
  c: { eks: { name: c, region: eu-west-1 } }
defaults:
  rollout: { waitMs: 2000, readyTimeoutMs: 600000 }
syncs:
  - source: { secret: prod/db }
    targets:
      - { clusters: [a, b, c], namespaces: [app], secret: db }
    rollout: { waves: [[a], [b], [c]], healthTimeout: 5m }
`;

/** Three clusters with one consumer each, on a clock that the engine's sleeps move forward. */
function world(yaml = WAVES) {
  let clock = Date.parse('2025-05-01T10:00:00.000Z');
  const apis = ['a', 'b', 'c'].map((name) => new FakeKubeApi(name, { namespaces: ['app'] }));
  for (const api of apis) api.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db') });
  const source = new FakeSecretSource();
  const connector = new FakeConnector(apis);
  const engine = new SyncEngine({
    config: parseConfig(yaml),
    source,
    clusters: connector,
    now: () => new Date(clock),
    sleep: async (ms) => {
      clock += ms;
    },
  });
  const api = (name: string) => connector.api(name);
  return { engine, source, api, advance: (ms: number) => (clock += ms) };
}

const rotation = (versionId?: string): SyncRequest => ({
  trigger: 'rotation',
  dryRun: false,
  restart: true,
  secrets: ['prod/db'],
  ...(versionId === undefined ? {} : { versionId }),
});

function of(report: SyncReport, cluster: string): BindingResult {
  const found = report.results.find((r) => r.cluster === cluster);
  if (found === undefined) throw new Error(`no result for ${cluster}`);
  return found;
}

/** Wave `cluster`'s consumer stays rolling (its new pod never Ready) until told otherwise. */
function stuck(api: FakeKubeApi): void {
  api.scriptRollout('app', 'Deployment', 'web', [{ updatedReplicas: 1, readyReplicas: 0, availableReplicas: 0 }]);
}

describe('SyncEngine: health-gated waves', () => {
  it('writes the waves in order in one pass when each rolls out at once, each consumer restarted once', async () => {
    // Arrange
    const w = world();
    const versionId = w.source.put('prod/db', { password: CANARY });

    // Act
    const report = await w.engine.run(rotation(versionId));

    // Assess
    for (const cluster of ['a', 'b', 'c']) {
      expect(of(report, cluster)).toMatchObject({
        action: 'created',
        restarted: [{ kind: 'Deployment', name: 'web', rollout: 'rolledOut' }],
      });
      expect(w.api(cluster).book.count('patchTemplateAnnotations')).toBe(1);
      expect(w.api(cluster).secret('app', 'db')?.annotations[VERSION_ANNOTATION]).toBe(versionId);
    }
    expect(report.summary).toMatchObject({ created: 3, restarts: 3, rolledOut: 3, skipped: 0 });
    expect(report.waves).toEqual([expect.objectContaining({ wave: 3, of: 3, state: 'done', moved: true })]);
  });

  it('writes one wave per pass with wavesPerPass 1, leaving the next to a continuation at once', async () => {
    // Arrange
    const w = world();
    const versionId = w.source.put('prod/db', { password: CANARY });

    // Act
    const passes: SyncReport[] = [];
    for (let i = 0; i < 3; i++) passes.push(await w.engine.run(rotation(versionId), { wavesPerPass: 1 }));

    // Assess: each pass writes its wave and reports its consumer rolled out; the others wait.
    passes.forEach((report, i) => {
      const cluster = ['a', 'b', 'c'][i] as string;
      expect(of(report, cluster)).toMatchObject({ action: 'created', restarted: [{ rollout: 'rolledOut' }] });
      for (const later of ['a', 'b', 'c'].slice(i + 1)) {
        expect(of(report, later).notes?.[0]).toMatch(
          new RegExp(`waits: wave ${i + 1} is done; wave ${i + 2} continues in a new pass$`),
        );
      }
    });
    expect(passes.map((r) => r.waves?.[0]).map((p) => [p?.wave, p?.state, p?.delaySeconds])).toEqual([
      [2, 'waiting', 0],
      [3, 'waiting', 0],
      [3, 'done', 30],
    ]);
    for (const cluster of ['a', 'b', 'c']) expect(w.api(cluster).book.count('patchTemplateAnnotations')).toBe(1);
  });

  it('holds the later waves while wave 1 rolls, and a duplicate event changes nothing', async () => {
    // Arrange
    const w = world();
    const versionId = w.source.put('prod/db', { password: CANARY });
    stuck(w.api('a'));

    // Act
    const first = await w.engine.run(rotation(versionId));
    const duplicate = await w.engine.run(rotation(versionId));

    // Assess
    expect(of(first, 'a')).toMatchObject({ action: 'created', restarted: [{ rollout: 'progressing' }] });
    for (const report of [first, duplicate]) {
      for (const cluster of ['b', 'c']) {
        const result = of(report, cluster);
        expect(result.action).toBe('skipped');
        expect(result.notes?.[0]).toMatch(/^WaitingForWave: wave \d of 3 waits: wave 1 is not done: a\/app\/db: /);
        expect(w.api(cluster).secret('app', 'db')).toBeUndefined();
      }
    }
    expect(of(duplicate, 'a')).toMatchObject({ action: 'unchanged', restarted: [] });
    expect(w.api('a').book.count('patchTemplateAnnotations')).toBe(1);
    // Where the waves stand, for the continuation: the first pass moved them, the duplicate did not.
    const arn = w.source.arnOf('prod/db');
    const waiting = { arn, versionId, sync: 0, wave: 1, of: 3, state: 'waiting', delaySeconds: 30 };
    expect(first.waves).toEqual([expect.objectContaining({ ...waiting, moved: true })]);
    expect(duplicate.waves).toEqual([expect.objectContaining({ ...waiting, moved: false })]);
    expect(JSON.stringify([first, duplicate])).not.toContain(CANARY);
    expect(JSON.stringify([first, duplicate])).not.toContain(b64(CANARY));
  });

  it('lets a reconcile write the next waves once wave 1 rolled out, restarting wave 1 no more', async () => {
    // Arrange
    const w = await waveOneRolledOut();

    // Act
    const report = await w.engine.run({ trigger: 'reconcile', dryRun: false, restart: true });

    // Assess
    expect(of(report, 'a')).toMatchObject({ action: 'unchanged', restarted: [] });
    expect(of(report, 'b')).toMatchObject({ action: 'created', restarted: [{ rollout: 'rolledOut' }] });
    expect(of(report, 'c')).toMatchObject({ action: 'created', restarted: [{ rollout: 'rolledOut' }] });
    expect(w.api('a').book.count('patchTemplateAnnotations')).toBe(1);
  });

  it('halts after a wave whose rollout failed: the later waves are not written', async () => {
    // Arrange
    const w = world();
    const versionId = w.source.put('prod/db', { password: CANARY });
    w.api('a').scriptRollout('app', 'Deployment', 'web', [{ availableReplicas: 0, progressDeadlineExceeded: true }]);

    // Act
    const report = await w.engine.run(rotation(versionId));

    // Assess
    expect(of(report, 'a')).toMatchObject({ restarted: [{ rollout: 'failed' }] });
    expect(of(report, 'b').notes?.[0]).toMatch(/^WaitingForWave: wave 2 of 3 waits: wave 1 failed: /);
    expect(report.waves).toEqual([expect.objectContaining({ wave: 1, state: 'failed', moved: true })]);
    // The bad version is named in the report and in a RolloutHalted Event on wave 1's Secret; no value anywhere.
    expect(report.notes).toContainEqual(
      expect.stringMatching(new RegExp(`^version ${versionId} of ".*" halted at wave 1 of 3: a/app/db: `)),
    );
    const halted = w
      .api('a')
      .events()
      .filter((e) => e.reason === 'RolloutHalted');
    expect(halted).toEqual([
      expect.objectContaining({
        type: 'Warning',
        regarding: expect.objectContaining({ kind: 'Secret', namespace: 'app', name: 'db' }),
        note: expect.stringMatching(
          new RegExp(`^Version ${versionId} of arn:.* halted at wave 1 of 3 \\(waves 2-3 are not written\\): `),
        ),
      }),
    ]);
    expect(JSON.stringify([report, halted])).not.toContain(CANARY);
    expect(w.api('b').secret('app', 'db')).toBeUndefined();
    expect(w.api('c').secret('app', 'db')).toBeUndefined();
  });

  it('fails a wave that did not roll out within healthTimeout of its write', async () => {
    // Arrange
    const w = world();
    const versionId = w.source.put('prod/db', { password: CANARY });
    stuck(w.api('a'));
    await w.engine.run(rotation(versionId));
    w.advance(5 * 60_000);

    // Act
    const report = await w.engine.run(rotation(versionId));

    // Assess
    expect(of(report, 'b').notes?.[0]).toMatch(
      /wave 1 failed: a\/app\/db: Deployment\/web not rolled out within 300 s/,
    );
    expect(w.api('b').secret('app', 'db')).toBeUndefined();
  });

  it('gates a newer version from wave 1 again, while the later waves keep the version they hold', async () => {
    // Arrange
    const w = world();
    w.source.put('prod/db', { password: 'one' });
    await w.engine.run(rotation());
    stuck(w.api('a'));
    const second = w.source.put('prod/db', { password: CANARY });

    // Act
    const report = await w.engine.run(rotation(second));

    // Assess
    expect(of(report, 'a').action).toBe('updated');
    expect(of(report, 'b').action).toBe('skipped');
    expect(w.api('b').secret('app', 'db')?.annotations[VERSION_ANNOTATION]).not.toBe(second);
  });
});

const ROLLBACK = WAVES.replace('healthTimeout: 5m }', 'healthTimeout: 5m, onFailure: rollback }');

/** Version 1 everywhere and rolled out, then version 2 put, whose new pods in `failing` will fail (progress deadline). */
async function secondVersion(yaml: string, failing = 'a') {
  const w = world(yaml);
  const first = w.source.put('prod/db', { password: 'one' });
  await w.engine.run(rotation(first));
  w.api(failing).scriptRollout('app', 'Deployment', 'web', [{ availableReplicas: 0, progressDeadlineExceeded: true }]);
  const second = w.source.put('prod/db', { password: CANARY });
  return { ...w, first, second };
}

/** A rotation written to wave 1 (cluster a) and held there until its rollout finished: the later waves are due. */
async function waveOneRolledOut() {
  const w = world();
  const versionId = w.source.put('prod/db', { password: CANARY });
  stuck(w.api('a'));
  await w.engine.run(rotation(versionId));
  w.api('a').scriptRollout('app', 'Deployment', 'web', []);
  return w;
}

/** `secondVersion`, delivered: wave 1 fails. */
async function failedSecondVersion(yaml: string) {
  const w = await secondVersion(yaml);
  const report = await w.engine.run(rotation(w.second));
  return { ...w, report };
}

const patches = (w: ReturnType<typeof world>, cluster: string) => w.api(cluster).book.count('patchTemplateAnnotations');

describe('SyncEngine: a failed wave rolled back and held', () => {
  it('rolls the failed wave back to the version it held, restarting its consumers back once; later waves untouched', async () => {
    // Arrange + Act
    const w = await failedSecondVersion(ROLLBACK);

    // Assess: wave 1 holds version 1 again (its value and id), and its consumer was restarted for 2 and back.
    const secret = w.api('a').secret('app', 'db');
    expect(secret?.annotations[VERSION_ANNOTATION]).toBe(w.first);
    expect(secret?.data.password).toBe(b64('one'));
    expect(patches(w, 'a')).toBe(3);
    expect(of(w.report, 'a')).toMatchObject({
      action: 'updated',
      restarted: [{ kind: 'Deployment', name: 'web', rollout: 'failed' }],
      rolledBack: { from: w.second, to: w.first, restarted: [{ kind: 'Deployment', name: 'web' }] },
    });
    // The later waves keep version 1, never restarted again.
    for (const cluster of ['b', 'c']) {
      expect(of(w.report, cluster).action).toBe('skipped');
      expect(w.api(cluster).secret('app', 'db')?.annotations[VERSION_ANNOTATION]).toBe(w.first);
      expect(patches(w, cluster)).toBe(1);
    }
    // The hold names the bad version on wave 1's Secret; the report, the Event and the waves entry say so too.
    expect(JSON.parse(secret?.annotations['eks-secret-sync.io/hold'] ?? '{}')).toMatchObject({
      versionId: w.second,
      sync: 0,
      wave: 1,
      of: 3,
      policy: 'rollback',
    });
    expect(w.report.waves).toEqual([
      expect.objectContaining({ versionId: w.second, state: 'failed', hold: expect.objectContaining({ wave: 1 }) }),
    ]);
    expect(w.report.notes).toContainEqual(
      expect.stringMatching(
        new RegExp(`^version ${w.second} of .* halted at wave 1 of 3: .*; the version is held and wave 1 rolled back`),
      ),
    );
    const halted = w
      .api('a')
      .events()
      .find((e) => e.reason === 'RolloutHalted');
    expect(halted?.note).toMatch(new RegExp(`; wave 1 is rolled back to version ${w.first}$`));
    // Secrets Manager is not touched: AWSCURRENT is still the bad version.
    expect((await w.source.describeVersions('prod/db')).currentVersionId).toBe(w.second);
    expect(JSON.stringify([w.report, w.api('a').events()])).not.toContain(CANARY);
  });

  it('holds the version: a duplicate event, a reconcile and a backfill write and restart nothing', async () => {
    // Arrange
    const w = await failedSecondVersion(ROLLBACK);
    w.api('a').scriptRollout('app', 'Deployment', 'web', []);
    const writes = ['a', 'b', 'c'].map((c) => w.api(c).writes());

    // Act
    const reports = [
      await w.engine.run(rotation(w.second)),
      await w.engine.run({ trigger: 'reconcile', dryRun: false, restart: true }),
      await w.engine.run({ trigger: 'backfill', dryRun: false, restart: true, secrets: ['prod/db'] }),
    ];

    // Assess
    expect(['a', 'b', 'c'].map((c) => w.api(c).writes())).toEqual(writes);
    for (const report of reports) {
      for (const cluster of ['a', 'b', 'c']) {
        expect(of(report, cluster)).toMatchObject({ action: 'skipped', restarted: [] });
        expect(of(report, cluster).notes?.[0]).toMatch(
          new RegExp(
            `^Held: version ${w.second} is held since .*: wave 1 of 3 failed \\(rolled back\\): .*release --secret prod/db`,
          ),
        );
      }
      expect(report.waves).toEqual([expect.objectContaining({ state: 'held', wave: 1, moved: false })]);
      expect(report.summary.failed).toBe(0);
    }
    expect(w.api('a').secret('app', 'db')?.annotations[VERSION_ANNOTATION]).toBe(w.first);
  });

  it('finishes a rollback a pass could not complete, once', async () => {
    // Arrange: the version to roll back to cannot be read the first time.
    const w = await secondVersion(ROLLBACK);
    const { first, second } = w;
    w.source.fail('getVersion', () => new Error('throttled'), { times: 1 });
    const failed = await w.engine.run(rotation(second));
    w.api('a').scriptRollout('app', 'Deployment', 'web', []);

    // Act
    const next = await w.engine.run(rotation(second));
    const again = await w.engine.run(rotation(second));

    // Assess
    expect(of(failed, 'a')).toMatchObject({ action: 'failed' });
    expect(of(failed, 'a').error?.message).toMatch(new RegExp(`^not rolled back to version ${first}: `));
    expect(of(next, 'a')).toMatchObject({
      action: 'updated',
      rolledBack: { from: second, to: first, restarted: [{ kind: 'Deployment', name: 'web', rollout: 'rolledOut' }] },
    });
    expect(of(again, 'a')).toMatchObject({ action: 'skipped', restarted: [] });
    expect(w.api('a').secret('app', 'db')?.annotations[VERSION_ANNOTATION]).toBe(first);
    expect(patches(w, 'a')).toBe(3);
    expect(w.api('b').secret('app', 'db')?.annotations[VERSION_ANNOTATION]).toBe(first);
  });

  it('rolls back to AWSPREVIOUS when the Secret names no previous version (written before it recorded one)', async () => {
    // Arrange
    const w = world(ROLLBACK);
    const first = w.source.put('prod/db', { password: 'one' });
    await w.engine.run(rotation(first));
    stuck(w.api('a'));
    const second = w.source.put('prod/db', { password: CANARY });
    await w.engine.run(rotation(second));
    // As on a Secret written before it recorded the version it replaced.
    w.api('a').touchSecret('app', 'db', (s) => {
      delete s.annotations['eks-secret-sync.io/previous-version-id'];
    });
    w.advance(5 * 60_000);

    // Act: the wave has not rolled out within healthTimeout: failed, rolled back.
    const report = await w.engine.run(rotation(second));

    // Assess
    expect(of(report, 'a').rolledBack).toMatchObject({ from: second, to: first });
    expect(w.api('a').secret('app', 'db')?.annotations[VERSION_ANNOTATION]).toBe(first);
    expect(w.source.calls('describeVersions')).toBe(1);
  });

  it('keeps a halted version held after its pods recover, until release; then the waves continue', async () => {
    // Arrange: halt (the default policy); then a person fixes wave 1's pods.
    const w = await failedSecondVersion(WAVES);
    w.api('a').scriptRollout('app', 'Deployment', 'web', []);
    const held = await w.engine.run({ trigger: 'reconcile', dryRun: false, restart: true });

    // Act
    const released = await w.engine.release({ secrets: ['prod/db'] });
    const status = await w.engine.status({ secrets: ['prod/db'] });
    const next = await w.engine.run({ trigger: 'reconcile', dryRun: false, restart: true });

    // Assess: held until released; the release removed the one hold, and the next pass wrote waves 2 and 3.
    expect(of(held, 'b').notes?.[0]).toMatch(/^Held: .*\(halted\)/);
    expect(w.api('a').secret('app', 'db')?.annotations[VERSION_ANNOTATION]).toBe(w.second);
    expect(released.released).toEqual([
      expect.objectContaining({
        cluster: 'a',
        namespace: 'app',
        secret: 'db',
        hold: expect.objectContaining({ versionId: w.second, policy: 'halt' }),
      }),
    ]);
    expect(released.failed).toEqual([]);
    expect(status.bindings.filter((b) => b.hold !== undefined)).toEqual([]);
    expect(of(next, 'a')).toMatchObject({ action: 'unchanged', restarted: [] });
    for (const cluster of ['b', 'c']) {
      expect(of(next, cluster)).toMatchObject({ action: 'updated', restarted: [{ rollout: 'rolledOut' }] });
      expect(w.api(cluster).secret('app', 'db')?.annotations[VERSION_ANNOTATION]).toBe(w.second);
    }
  });

  it('shows the hold in status', async () => {
    // Arrange
    const w = await failedSecondVersion(ROLLBACK);

    // Act
    const status = await w.engine.status({});

    // Assess
    const a = status.bindings.find((b) => b.cluster === 'a');
    expect(a?.hold).toMatchObject({ versionId: w.second, wave: 1, of: 3, policy: 'rollback' });
    expect(status.bindings.filter((b) => b.hold !== undefined)).toHaveLength(1);
  });

  it('lets a newer version supersede the hold: its waves start from wave 1, the hold is gone', async () => {
    // Arrange
    const w = await failedSecondVersion(ROLLBACK);
    w.api('a').scriptRollout('app', 'Deployment', 'web', []);
    const third = w.source.put('prod/db', { password: 'three' });

    // Act
    const report = await w.engine.run(rotation(third));

    // Assess
    for (const cluster of ['a', 'b', 'c']) {
      expect(of(report, cluster)).toMatchObject({ action: 'updated', restarted: [{ rollout: 'rolledOut' }] });
      expect(w.api(cluster).secret('app', 'db')?.annotations[VERSION_ANNOTATION]).toBe(third);
    }
    expect(w.api('a').secret('app', 'db')?.annotations['eks-secret-sync.io/hold']).toBeUndefined();
    expect(report.notes).toContainEqual(
      expect.stringMatching(new RegExp(`^hold of version ${w.second} of .* is superseded by version ${third}$`)),
    );
    expect(report.waves).toEqual([expect.objectContaining({ state: 'done' })]);
  });
});

describe('SyncEngine: waves under filters', () => {
  it("does not let a backfill of a later wave's cluster skip the gate of wave 1", async () => {
    // Arrange
    const w = world();
    const versionId = w.source.put('prod/db', { password: CANARY });
    stuck(w.api('a'));
    await w.engine.run(rotation(versionId));

    // Act
    const report = await w.engine.run({
      trigger: 'backfill',
      dryRun: false,
      restart: true,
      secrets: ['prod/db'],
      clusters: ['b'],
    });

    // Assess
    expect(of(report, 'b').action).toBe('skipped');
    expect(of(report, 'b').notes?.[0]).toMatch(/^WaitingForWave: wave 2 of 3 waits: wave 1 is not done: a\/app\/db: /);
    expect(w.api('b').secret('app', 'db')).toBeUndefined();
    expect(report.results.map((r) => r.cluster)).toEqual(['b']);
  });

  it("lets a backfill of a later wave's cluster write it once wave 1 rolled out, and only it", async () => {
    // Arrange
    const w = await waveOneRolledOut();

    // Act
    const report = await w.engine.run({ trigger: 'backfill', dryRun: false, restart: true, clusters: ['b'] });

    // Assess
    expect(report.results.map((r) => [r.cluster, r.action])).toEqual([['b', 'created']]);
    expect(w.api('c').secret('app', 'db')).toBeUndefined();
    expect(w.api('a').book.count('patchTemplateAnnotations')).toBe(1);
  });

  it("holds a backfill of a later wave's cluster while the version is held on wave 1", async () => {
    // Arrange
    const w = await failedSecondVersion(ROLLBACK);
    const writes = w.api('b').writes();

    // Act
    const report = await w.engine.run({ trigger: 'backfill', dryRun: false, restart: true, clusters: ['b'] });

    // Assess
    expect(report.results.map((r) => [r.cluster, r.action])).toEqual([['b', 'skipped']]);
    expect(of(report, 'b').notes?.[0]).toMatch(new RegExp(`^Held: version ${w.second} is held since `));
    expect(w.api('b').writes()).toBe(writes);
  });

  it('rolls back once when two deliveries of the failing rotation run at once', async () => {
    // Arrange
    const w = await secondVersion(ROLLBACK);
    const { first, second } = w;

    // Act
    const reports = await Promise.all([w.engine.run(rotation(second)), w.engine.run(rotation(second))]);

    // Assess: version 1, version 2 and the restart back: one applied patch each (a concurrent one meets Conflict).
    expect(patches(w, 'a')).toBe(3);
    expect(w.api('a').secret('app', 'db')?.annotations[VERSION_ANNOTATION]).toBe(first);
    for (const cluster of ['b', 'c']) expect(patches(w, cluster)).toBe(1);
    expect(reports.every((r) => r.summary.failed === 0)).toBe(true);
  });

  it('rolls back a failed wave 2 only, holding the version on waves 1 and 2; a newer version clears both holds', async () => {
    // Arrange
    const w = await secondVersion(ROLLBACK, 'b');
    const { first, second } = w;
    const hold = (cluster: string) => w.api(cluster).secret('app', 'db')?.annotations['eks-secret-sync.io/hold'];

    // Act
    const failed = await w.engine.run(rotation(second));
    const holds = ['a', 'b', 'c'].map((c) => (hold(c) === undefined ? undefined : JSON.parse(hold(c) as string).wave));
    w.api('b').scriptRollout('app', 'Deployment', 'web', []);
    const third = w.source.put('prod/db', { password: 'three' });
    const next = await w.engine.run(rotation(third));

    // Assess
    expect(of(failed, 'a')).toMatchObject({ action: 'updated', restarted: [{ rollout: 'rolledOut' }] });
    expect(of(failed, 'b').rolledBack).toMatchObject({ from: second, to: first });
    expect(of(failed, 'c').action).toBe('skipped');
    expect(holds).toEqual([2, 2, undefined]);
    expect(w.api('c').secret('app', 'db')?.annotations[VERSION_ANNOTATION]).toBe(third);
    expect(['a', 'b'].map(hold)).toEqual([undefined, undefined]);
    expect(next.waves).toEqual([expect.objectContaining({ state: 'done' })]);
  });
});
