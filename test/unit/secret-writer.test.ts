import { beforeEach, describe, expect, it } from 'vitest';
import type { TargetConfig } from '../../lib/config/index.js';
import {
  FINGERPRINT_ANNOTATION,
  fingerprint,
  HASH_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  RESTART_PENDING_ANNOTATION,
  SOURCE_ANNOTATION,
  SYNCED_AT_ANNOTATION,
  VERSION_ANNOTATION,
} from '../../lib/domain/names.js';
import { changedKeys, type UpsertOptions, upsertSecret } from '../../lib/sync/apply/secret-writer.js';
import { type DesiredSecret, renderSecret } from '../../lib/sync/render.js';
import { rejection } from '../support/assertions.js';
import { b64, FakeKubeApi, secretValue, targetConfig } from '../support/fakes.js';

const OPTIONS: UpsertOptions = { adopt: false, recreate: false, dryRun: false, markRestartPending: true };

function desired(value: Record<string, string>, target: Partial<TargetConfig> = {}, versionId = 'v1'): DesiredSecret {
  return renderSecret(secretValue(JSON.stringify(value), 'app/db', versionId), targetConfig(target), {
    namespace: 'app',
    name: 'db',
    source: 'app/db',
  });
}

describe('upsertSecret', () => {
  let api: FakeKubeApi;

  beforeEach(() => {
    api = new FakeKubeApi('a', { namespaces: ['app'] });
  });

  /** Seeds app/db as a Secret we manage (our label) with the given data and annotations. */
  function seedManaged(fields: Omit<Parameters<FakeKubeApi['seedSecret']>[0], 'namespace' | 'name' | 'labels'>) {
    api.seedSecret({ namespace: 'app', name: 'db', labels: managed(), ...fields });
  }

  it('creates a missing Secret with our label, hash and restart-pending marker', async () => {
    // Prepare
    const want = desired({ user: 'u', password: 'p' });

    // Act
    const outcome = await upsertSecret(api, want, OPTIONS);

    // Assess
    expect(outcome).toMatchObject({ action: 'created', changedKeys: ['password', 'user'], restartPending: true });
    const stored = api.secret('app', 'db');
    expect(stored?.data).toEqual({ user: b64('u'), password: b64('p') });
    expect(stored?.labels[MANAGED_BY_LABEL]).toBe(MANAGED_BY_VALUE);
    expect(stored?.annotations[HASH_ANNOTATION]).toBe(want.hash);
    expect(stored?.annotations[RESTART_PENDING_ANNOTATION]).toBe(want.hash);
    expect(api.calls('getSecret')).toBe(1);
    expect(api.calls('createSecret')).toBe(1);
  });

  it('creates without a restart marker when no restart is wanted', async () => {
    // Act
    const outcome = await upsertSecret(api, desired({ a: '1' }), { ...OPTIONS, markRestartPending: false });

    // Assess
    expect(outcome.restartPending).toBe(false);
    expect(api.secret('app', 'db')?.annotations).not.toHaveProperty(RESTART_PENDING_ANNOTATION);
  });

  it('skips the write when the hash is unchanged: exactly one get', async () => {
    // Prepare
    await upsertSecret(api, desired({ a: '1' }), { ...OPTIONS, markRestartPending: false });
    api.book.reset();

    // Act
    const outcome = await upsertSecret(api, desired({ a: '1' }), OPTIONS);

    // Assess
    expect(outcome).toMatchObject({ action: 'unchanged', changedKeys: [], restartPending: false });
    expect(api.book.total()).toBe(1);
    expect(api.calls('getSecret')).toBe(1);
  });

  it('skips the write when only the source version differs', async () => {
    // Prepare
    await upsertSecret(api, desired({ a: '1' }, {}, 'v1'), OPTIONS);
    api.book.reset();

    // Act
    const outcome = await upsertSecret(api, desired({ a: '1' }, {}, 'v2'), OPTIONS);

    // Assess
    expect(outcome.action).toBe('unchanged');
    expect(api.writes()).toBe(0);
    expect(api.secret('app', 'db')?.annotations[VERSION_ANNOTATION]).toBe('v1');
  });

  it('reports a restart still pending from an earlier pass without writing', async () => {
    // Prepare: a pass that wrote the Secret but never restarted its consumers.
    const want = desired({ a: '1' });
    await upsertSecret(api, want, OPTIONS);
    api.book.reset();

    // Act
    const outcome = await upsertSecret(api, want, OPTIONS);

    // Assess
    expect(outcome).toMatchObject({ action: 'unchanged', changedKeys: [], restartPending: true });
    expect(api.writes()).toBe(0);
  });

  it("records the pass in the marker, keeps an earlier pass's marker for this content, replaces one for other content", async () => {
    // Prepare
    const first = desired({ a: '1' });
    await upsertSecret(api, first, { ...OPTIONS, pass: 'pass-a' });

    // Act
    const retried = await upsertSecret(api, first, { ...OPTIONS, pass: 'pass-b' });
    const newer = await upsertSecret(api, desired({ a: '2' }), { ...OPTIONS, pass: 'pass-c' });

    // Assess
    expect(retried).toMatchObject({ action: 'unchanged', restartPending: true, marker: `${first.hash}/pass-a` });
    expect(newer).toMatchObject({ action: 'updated', restartPending: true });
    expect(newer.marker).toMatch(/\/pass-c$/);
    expect(api.secret('app', 'db')?.annotations[RESTART_PENDING_ANNOTATION]).toBe(newer.marker);
  });

  it('updates changed data, naming the added, removed and changed keys', async () => {
    // Prepare
    await upsertSecret(api, desired({ a: '1', b: '2', keep: 'k' }), { ...OPTIONS, markRestartPending: false });
    const before = api.secret('app', 'db');
    const want = desired({ b: '3', c: '4', keep: 'k' });

    // Act
    const outcome = await upsertSecret(api, want, OPTIONS);

    // Assess
    expect(outcome).toMatchObject({ action: 'updated', changedKeys: ['a', 'b', 'c'], restartPending: true });
    const after = api.secret('app', 'db');
    expect(after?.data).toEqual(want.data);
    expect(after?.annotations[HASH_ANNOTATION]).toBe(want.hash);
    expect(after?.annotations[RESTART_PENDING_ANNOTATION]).toBe(want.hash);
    expect(Number(after?.resourceVersion)).toBeGreaterThan(Number(before?.resourceVersion));
    expect(api.calls('replaceSecret')).toBe(1);
  });

  it('keeps labels and annotations that others put on the Secret', async () => {
    // Prepare
    await upsertSecret(api, desired({ a: '1' }), OPTIONS);
    api.touchSecret('app', 'db', (s) => {
      s.labels.team = 'payments';
      s.annotations['example.com/owner'] = 'x';
    });

    // Act
    await upsertSecret(api, desired({ a: '2' }), OPTIONS);

    // Assess
    expect(api.secret('app', 'db')?.labels.team).toBe('payments');
    expect(api.secret('app', 'db')?.annotations['example.com/owner']).toBe('x');
  });

  it('updates metadata only without marking a restart pending', async () => {
    // Prepare
    await upsertSecret(api, desired({ a: '1' }), { ...OPTIONS, markRestartPending: false });

    // Act
    const outcome = await upsertSecret(api, desired({ a: '1' }, { labels: { team: 'x' } }), OPTIONS);

    // Assess
    expect(outcome).toMatchObject({ action: 'updated', changedKeys: [], restartPending: false });
    expect(api.secret('app', 'db')?.labels.team).toBe('x');
    expect(api.secret('app', 'db')?.annotations).not.toHaveProperty(RESTART_PENDING_ANNOTATION);
  });

  it('refuses to overwrite a Secret it does not manage', async () => {
    // Prepare
    api.seedSecret({ namespace: 'app', name: 'db', data: { a: b64('theirs') } });

    // Act
    const error = await rejection(upsertSecret(api, desired({ a: '1' }), OPTIONS));

    // Assess
    expect(error.code).toBe('NotManaged');
    expect(error.message).toContain('Secret app/db in cluster "a"');
    expect(error.message).toContain('adopt');
    expect(api.writes()).toBe(0);
  });

  it('adopts an unmanaged Secret when asked, labelling it as ours', async () => {
    // Prepare
    api.seedSecret({ namespace: 'app', name: 'db', data: { a: b64('theirs') }, labels: { team: 't' } });

    // Act
    const outcome = await upsertSecret(api, desired({ a: '1' }), { ...OPTIONS, adopt: true });

    // Assess
    expect(outcome).toMatchObject({ action: 'updated', changedKeys: ['a'] });
    expect(api.secret('app', 'db')?.labels).toEqual({ team: 't', [MANAGED_BY_LABEL]: MANAGED_BY_VALUE });
  });

  it.each([
    ['an ExternalSecret owner reference', { ownerKinds: ['ExternalSecret'] }],
    ['a PushSecret owner reference', { ownerKinds: ['PushSecret'] }],
    ['an External Secrets label', { labels: { 'reconcile.external-secrets.io/created-by': 'x' } }],
    ['an External Secrets annotation', { annotations: { 'reconcile.external-secrets.io/data-hash': 'h' } }],
  ])(
    'never writes a Secret owned by External Secrets Operator (%s), even with adopt and recreate',
    async (_l, seed) => {
      // Prepare
      api.seedSecret({ namespace: 'app', name: 'db', data: { a: b64('eso') }, ...seed });

      // Act
      const error = await rejection(
        upsertSecret(api, desired({ a: '1' }), { ...OPTIONS, adopt: true, recreate: true }),
      );

      // Assess
      expect(error.code).toBe('OwnedByOtherController');
      expect(api.writes()).toBe(0);
    },
  );

  describe('a Secret that mirrors another source secret', () => {
    const other = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db-backup-Zy98Xw';

    it.each([
      ['a dry run', { dryRun: true }],
      ['adopt and recreate', { adopt: true, recreate: true }],
      ['an equal content', {}],
    ])('is refused, naming both, and never written (%s)', async (_l, options) => {
      // Prepare
      const want = desired({ a: '1' });
      seedManaged({
        data: want.data,
        annotations: { [SOURCE_ANNOTATION]: other, [HASH_ANNOTATION]: want.hash },
      });

      // Act
      const error = await rejection(upsertSecret(api, want, { ...OPTIONS, ...options }));

      // Assess
      expect(error.code).toBe('SourceMismatch');
      expect(error.message).toContain(`Secret app/db in cluster "a" mirrors secret "${other}"`);
      expect(error.message).toContain(`not "${want.source.arn}"`);
      expect(api.writes()).toBe(0);
    });

    it("is refused when an older version recorded another secret's name", async () => {
      // Prepare
      seedManaged({ annotations: { [SOURCE_ANNOTATION]: 'app/dbx' } });

      // Act
      const error = await rejection(upsertSecret(api, desired({ a: '1' }), OPTIONS));

      // Assess
      expect(error.code).toBe('SourceMismatch');
      expect(error.message).toContain('mirrors secret "app/dbx"');
      expect(api.writes()).toBe(0);
    });

    it('accepts the name an older version recorded for the same secret and rewrites it to the ARN, restarting nothing', async () => {
      // Prepare
      const want = desired({ a: '1' });
      seedManaged({
        data: want.data,
        annotations: { ...want.annotations, [SOURCE_ANNOTATION]: 'app/db' },
      });

      // Act
      const outcome = await upsertSecret(api, want, OPTIONS);

      // Assess
      expect(outcome).toMatchObject({ action: 'updated', changedKeys: [], restartPending: false });
      expect(api.secret('app', 'db')?.annotations[SOURCE_ANNOTATION]).toBe(want.source.arn);
    });
  });

  it('refuses to change an immutable Secret', async () => {
    // Prepare
    api.seedSecret({ namespace: 'app', name: 'db', data: { a: b64('0') }, immutable: true, labels: managed() });

    // Act
    const error = await rejection(upsertSecret(api, desired({ a: '1' }), OPTIONS));

    // Assess
    expect(error.code).toBe('Immutable');
    expect(error.message).toContain('recreate');
    expect(api.writes()).toBe(0);
  });

  it('refuses to change the type of a Secret', async () => {
    // Prepare
    api.seedSecret({ namespace: 'app', name: 'db', data: { a: b64('1') }, type: 'Opaque', labels: managed() });

    // Act
    const error = await rejection(upsertSecret(api, desired({ a: '1' }, { type: 'example.com/x' }), OPTIONS));

    // Assess
    expect(error.code).toBe('TypeChange');
    expect(api.writes()).toBe(0);
  });

  it.each([
    ['an immutable Secret', { immutable: true }, {}],
    ['a Secret of another type', {}, { type: 'example.com/x' }],
  ])('deletes and recreates %s when recreate is set', async (_l, seed, target) => {
    // Prepare
    api.seedSecret({ namespace: 'app', name: 'db', data: { a: b64('0') }, labels: managed(), ...seed });
    const want = desired({ a: '1' }, target);

    // Act
    const outcome = await upsertSecret(api, want, { ...OPTIONS, recreate: true });

    // Assess
    expect(outcome).toMatchObject({ action: 'updated', changedKeys: ['a'], restartPending: true });
    expect(api.calls('deleteSecret')).toBe(1);
    expect(api.calls('createSecret')).toBe(1);
    expect(api.calls('replaceSecret')).toBe(0);
    expect(api.secret('app', 'db')).toMatchObject({ type: want.type, data: want.data });
  });

  it('never deletes the Secret a concurrent pass just recreated: deletes only the uid it read', async () => {
    // Prepare: between our read of the immutable Secret and our delete, a duplicate pass recreated it as wanted.
    api.seedSecret({ namespace: 'app', name: 'db', data: { a: b64('0') }, labels: managed(), immutable: true });
    const want = desired({ a: '1' });
    let recreated: string | undefined;
    api.before = (method) => {
      if (method !== 'deleteSecret' || recreated !== undefined) return;
      recreated = api.seedSecret({
        namespace: 'app',
        name: 'db',
        type: want.type,
        data: want.data,
        labels: want.labels,
        annotations: want.annotations,
        immutable: true,
      }).uid;
    };

    // Act
    const outcome = await upsertSecret(api, want, { ...OPTIONS, recreate: true });

    // Assess
    expect(outcome).toMatchObject({ action: 'unchanged', uid: recreated });
    expect(api.secret('app', 'db')?.uid).toBe(recreated);
    expect(api.calls('createSecret')).toBe(0);
    expect(api.book.log.find((c) => c.method === 'deleteSecret')?.args[2]).toMatchObject({ uid: expect.any(String) });
  });

  it('re-reads and retries when another writer changed the Secret in between (409)', async () => {
    // Prepare
    await upsertSecret(api, desired({ a: '1' }), OPTIONS);
    let raced = false;
    api.before = (method) => {
      if (method === 'replaceSecret' && !raced) {
        raced = true;
        api.touchSecret('app', 'db', (s) => {
          s.labels.team = 'someone-else';
        });
      }
    };
    api.book.reset();

    // Act
    const outcome = await upsertSecret(api, desired({ a: '2' }), OPTIONS);

    // Assess
    expect(outcome.action).toBe('updated');
    expect(api.calls('getSecret')).toBe(2);
    expect(api.calls('replaceSecret')).toBe(2);
    expect(api.secret('app', 'db')?.labels.team).toBe('someone-else');
    expect(api.secret('app', 'db')?.data).toEqual({ a: b64('2') });
  });

  it('gives up with Conflict after the configured number of re-reads', async () => {
    // Prepare
    await upsertSecret(api, desired({ a: '1' }), OPTIONS);
    api.before = (method) => {
      if (method === 'replaceSecret') api.touchSecret('app', 'db');
    };
    api.book.reset();

    // Act
    const error = await rejection(upsertSecret(api, desired({ a: '2' }), { ...OPTIONS, maxConflictRetries: 2 }));

    // Assess
    expect(error.code).toBe('Conflict');
    expect(api.calls('getSecret')).toBe(3);
    expect(api.calls('replaceSecret')).toBe(3);
  });

  it('re-reads when the Secret was created by someone else between the read and the create', async () => {
    // Prepare
    api.before = (method) => {
      if (method === 'createSecret' && api.secret('app', 'db') === undefined) {
        api.seedSecret({ namespace: 'app', name: 'db', data: { a: b64('0') }, labels: managed() });
      }
    };

    // Act
    const outcome = await upsertSecret(api, desired({ a: '1' }), OPTIONS);

    // Assess
    expect(outcome.action).toBe('updated');
    expect(api.calls('getSecret')).toBe(2);
    expect(api.secret('app', 'db')?.data).toEqual({ a: b64('1') });
  });

  it('passes a missing namespace through as NamespaceNotFound', async () => {
    // Prepare
    const want = { ...desired({ a: '1' }), namespace: 'nowhere' };

    // Act
    const error = await rejection(upsertSecret(api, want, OPTIONS));

    // Assess
    expect(error.code).toBe('NamespaceNotFound');
  });

  it('passes a forbidden namespace through as Forbidden', async () => {
    // Prepare
    api.forbidden.add('app');

    // Act
    const error = await rejection(upsertSecret(api, desired({ a: '1' }), OPTIONS));

    // Assess
    expect(error.code).toBe('Forbidden');
  });

  it('writes nothing in a dry run but reports what it would do', async () => {
    // Prepare
    const created = await upsertSecret(api, desired({ a: '1' }), { ...OPTIONS, dryRun: true });
    await upsertSecret(api, desired({ a: '1' }), OPTIONS);
    api.book.reset();

    // Act
    const updated = await upsertSecret(api, desired({ a: '2', b: '3' }), { ...OPTIONS, dryRun: true });

    // Assess
    expect(created.action).toBe('created');
    expect(updated).toMatchObject({ action: 'updated', changedKeys: ['a', 'b'] });
    expect(api.writes()).toBe(0);
    expect(api.secret('app', 'db')?.data).toEqual({ a: b64('1') });
  });
});

describe('upsertSecret: synced-at and fingerprint annotations', () => {
  let api: FakeKubeApi;
  const t1 = new Date('2026-12-03T10:00:00.000Z');
  const t2 = new Date('2026-12-03T10:30:00.000Z');

  beforeEach(() => {
    api = new FakeKubeApi('a', { namespaces: ['app'] });
  });

  it('creates with synced-at, then adds the fingerprint of the uid the API server gave, guarded by uid and hash', async () => {
    // Prepare
    const want = desired({ a: '1' });

    // Act
    const outcome = await upsertSecret(api, want, { ...OPTIONS, now: t1 });

    // Assess
    const stored = api.secret('app', 'db');
    expect(stored?.annotations[SYNCED_AT_ANNOTATION]).toBe(t1.toISOString());
    expect(stored?.annotations[HASH_ANNOTATION]).toBe(want.hash);
    expect(stored?.annotations[FINGERPRINT_ANNOTATION]).toBe(fingerprint(stored?.uid ?? '', want.hash));
    expect(outcome).toMatchObject({ action: 'created', uid: stored?.uid, contentChanged: true });
    const created = api.book.log.find((c) => c.method === 'createSecret')?.args[0] as { annotations: object };
    expect(created.annotations).not.toHaveProperty(FINGERPRINT_ANNOTATION);
    expect(api.book.log.find((c) => c.method === 'annotateSecret')?.args[4]).toEqual({
      uid: stored?.uid,
      annotations: { [HASH_ANNOTATION]: want.hash },
    });
  });

  it('leaves synced-at and the fingerprint alone on an unchanged pass, writing nothing', async () => {
    // Prepare
    await upsertSecret(api, desired({ a: '1' }), { ...OPTIONS, now: t1 });
    api.book.reset();

    // Act
    const outcome = await upsertSecret(api, desired({ a: '1' }, {}, 'v2'), { ...OPTIONS, now: t2 });

    // Assess
    expect(outcome).toMatchObject({ action: 'unchanged', contentChanged: false });
    expect(api.writes()).toBe(0);
    expect(api.secret('app', 'db')?.annotations[SYNCED_AT_ANNOTATION]).toBe(t1.toISOString());
  });

  it('moves synced-at and the fingerprint with new content in the same write', async () => {
    // Prepare
    await upsertSecret(api, desired({ a: '1' }), { ...OPTIONS, now: t1 });
    api.book.reset();
    const want = desired({ a: '2' });

    // Act
    const outcome = await upsertSecret(api, want, { ...OPTIONS, now: t2 });

    // Assess
    const stored = api.secret('app', 'db');
    expect(outcome).toMatchObject({ action: 'updated', contentChanged: true });
    expect(stored?.annotations[SYNCED_AT_ANNOTATION]).toBe(t2.toISOString());
    expect(stored?.annotations[FINGERPRINT_ANNOTATION]).toBe(fingerprint(stored?.uid ?? '', want.hash));
    expect(api.writes()).toBe(1);
    expect(api.calls('replaceSecret')).toBe(1);
  });

  it('keeps synced-at on a metadata-only update (the content was written earlier)', async () => {
    // Prepare
    await upsertSecret(api, desired({ a: '1' }), { ...OPTIONS, now: t1 });
    api.touchSecret('app', 'db', (s) => {
      delete s.labels[MANAGED_BY_LABEL];
    });

    // Act
    const outcome = await upsertSecret(api, desired({ a: '1' }), { ...OPTIONS, adopt: true, now: t2 });

    // Assess
    expect(outcome).toMatchObject({ action: 'updated', contentChanged: false });
    expect(api.secret('app', 'db')?.annotations[SYNCED_AT_ANNOTATION]).toBe(t1.toISOString());
  });

  it('adds a missing fingerprint on an unchanged pass (a pass that died after its create), writing no content', async () => {
    // Prepare: created, then the fingerprint lost as if the pass had died before its patch.
    const want = desired({ a: '1' });
    await upsertSecret(api, want, { ...OPTIONS, now: t1 });
    api.touchSecret('app', 'db', (s) => {
      delete s.annotations[FINGERPRINT_ANNOTATION];
    });
    api.book.reset();

    // Act
    const outcome = await upsertSecret(api, want, { ...OPTIONS, now: t2 });

    // Assess
    const stored = api.secret('app', 'db');
    expect(outcome.action).toBe('unchanged');
    expect(stored?.annotations[FINGERPRINT_ANNOTATION]).toBe(fingerprint(stored?.uid ?? '', want.hash));
    expect(stored?.annotations[SYNCED_AT_ANNOTATION]).toBe(t1.toISOString());
    expect(api.writes()).toBe(api.calls('annotateSecret'));
    expect(api.calls('annotateSecret')).toBe(1);
  });

  it('sets no fingerprint on a Secret replaced between its create and the patch', async () => {
    // Prepare: someone deletes and recreates app/db (same content, new uid) right after our create.
    const want = desired({ a: '1' });
    let replacedUid: string | undefined;
    api.before = (method) => {
      if (method !== 'annotateSecret' || replacedUid !== undefined) return;
      const ours = api.secret('app', 'db');
      replacedUid = api.seedSecret({ ...(ours as NonNullable<typeof ours>), uid: crypto.randomUUID() }).uid;
    };

    // Act
    await upsertSecret(api, want, OPTIONS);

    // Assess
    expect(api.secret('app', 'db')?.uid).toBe(replacedUid);
    expect(api.secret('app', 'db')?.annotations).not.toHaveProperty(FINGERPRINT_ANNOTATION);
  });

  it('recreates with a fingerprint of the new uid, never the old one', async () => {
    // Prepare
    await upsertSecret(api, desired({ a: '1' }), OPTIONS);
    const before = api.secret('app', 'db');
    api.touchSecret('app', 'db', (s) => {
      s.immutable = true;
    });
    const want = desired({ a: '2' });

    // Act
    const outcome = await upsertSecret(api, want, { ...OPTIONS, recreate: true });

    // Assess
    const stored = api.secret('app', 'db');
    expect(stored?.uid).not.toBe(before?.uid);
    expect(outcome.uid).toBe(stored?.uid);
    expect(stored?.annotations[FINGERPRINT_ANNOTATION]).toBe(fingerprint(stored?.uid ?? '', want.hash));
    const created = api.book.log.filter((c) => c.method === 'createSecret').at(-1)?.args[0] as { annotations: object };
    expect(created.annotations).not.toHaveProperty(FINGERPRINT_ANNOTATION);
  });

  it('keeps the binding when the fingerprint patch fails, with a note', async () => {
    // Prepare
    api.fail('annotateSecret', () => new Error('patch Secret app/db: 500 Internal Server Error'));

    // Act
    const outcome = await upsertSecret(api, desired({ a: '1' }), OPTIONS);

    // Assess
    expect(outcome.action).toBe('created');
    expect(outcome.notes).toEqual([expect.stringContaining('fingerprint annotation not set')]);
  });

  it('adds no fingerprint in a dry run', async () => {
    // Prepare
    await upsertSecret(api, desired({ a: '1' }), OPTIONS);
    api.touchSecret('app', 'db', (s) => {
      delete s.annotations[FINGERPRINT_ANNOTATION];
    });
    api.book.reset();

    // Act
    await upsertSecret(api, desired({ a: '1' }), { ...OPTIONS, dryRun: true });

    // Assess
    expect(api.writes()).toBe(0);
  });
});

describe('changedKeys', () => {
  it('lists added, removed and changed keys, sorted', () => {
    expect(changedKeys({ a: '1', b: '2', c: '3' }, { b: '2', c: '4', d: '5' })).toEqual(['a', 'c', 'd']);
  });
});

function managed(): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE };
}
