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
    const w = world();
    const versionId = w.source.put('prod/db', { password: CANARY });
    stuck(w.api('a'));
    await w.engine.run(rotation(versionId));
    w.api('a').scriptRollout('app', 'Deployment', 'web', []);

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
