import { describe, expect, it } from 'vitest';
import { ClusterConnectionError, SyncError } from '../../lib/errors.js';
import { type RetryOptions, retryCalls } from '../../lib/sync/calls/retry.js';
import { b64, FakeKubeApi } from '../support/fakes.js';

const START = Date.parse('2025-05-01T10:00:00.000Z');

/** A fake cluster behind the decorator, with a clock that only sleeping moves. */
function harness(options: Omit<RetryOptions, 'now' | 'sleep' | 'random'> & { random?: () => number } = {}) {
  let now = START;
  const waits: number[] = [];
  const retries: Array<{ call: string; attempt: number; delayMs: number; code: string }> = [];
  const fake = new FakeKubeApi('eu', { namespaces: ['app'] });
  const api = retryCalls(fake, {
    random: () => 0.5,
    ...options,
    now: () => now,
    sleep: async (ms) => {
      waits.push(ms);
      now += ms;
    },
    onRetry: ({ call, attempt, delayMs, error }) => retries.push({ call, attempt, delayMs, code: error.code }),
  });
  return { fake, api, waits, retries, elapsed: () => now - START };
}

function answer(status: number, retryAfterMs?: number): () => SyncError {
  return () =>
    new SyncError('KubernetesError', `cannot get secrets in namespace "app" of cluster "eu": HTTP ${status}`, {
      retryable: true,
      status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
}

const secret = { namespace: 'app', name: 'db', type: 'Opaque', data: { k: b64('v') }, labels: {}, annotations: {} };

describe('retryCalls', () => {
  it('retries a 503 with jittered exponential backoff until the call succeeds', async () => {
    // Prepare
    const h = harness();
    h.fake.seedSecret({ namespace: 'app', name: 'db' });
    h.fake.fail('getSecret', answer(503), { times: 3 });

    // Act
    const read = await h.api.getSecret('app', 'db');

    // Assess: waits of half the ceiling (random 0.5) of 200, 400 and 800 ms.
    expect(read?.name).toBe('db');
    expect(h.fake.calls('getSecret')).toBe(4);
    expect(h.waits).toEqual([100, 200, 400]);
    expect(h.retries.map((r) => [r.call, r.attempt])).toEqual([
      ['getSecret', 1],
      ['getSecret', 2],
      ['getSecret', 3],
    ]);
  });

  it('waits at least what Retry-After asks, plus jitter', async () => {
    // Prepare
    const h = harness({ random: () => 0.99 });
    h.fake.fail('listWorkloads', answer(429, 2000), { times: 1 });

    // Act
    await h.api.listWorkloads('app', 'Deployment');

    // Assess
    expect(h.fake.calls('listWorkloads')).toBe(2);
    expect(h.waits).toHaveLength(1);
    expect(h.waits[0]).toBeGreaterThanOrEqual(2000);
    expect(h.waits[0]).toBeLessThan(2000 + 200);
  });

  it('gives up after maxAttempts and throws the last error unchanged', async () => {
    // Prepare
    const h = harness({ maxAttempts: 3 });
    const errors: SyncError[] = [];
    h.fake.fail(
      'getSecret',
      () => {
        const error = answer(500)();
        errors.push(error);
        return error;
      },
      { times: 10 },
    );

    // Act
    const thrown = await h.api.getSecret('app', 'db').catch((e: unknown) => e);

    // Assess
    expect(h.fake.calls('getSecret')).toBe(3);
    expect(thrown).toBe(errors[2]);
    expect(thrown).toMatchObject({ code: 'KubernetesError', retryable: true, status: 500 });
  });

  it('never starts a wait that would end after the deadline', async () => {
    // Prepare: the first wait (100 ms) fits, the second (200 ms) would end 50 ms past the deadline.
    const h = harness({ deadlineAt: START + 250 });
    h.fake.fail('getSecret', answer(503), { times: 5 });

    // Act
    const thrown = await h.api.getSecret('app', 'db').catch((e: unknown) => e);

    // Assess
    expect(h.waits).toEqual([100]);
    expect(h.fake.calls('getSecret')).toBe(2);
    expect(thrown).toMatchObject({ status: 503 });
    expect(h.elapsed()).toBeLessThanOrEqual(250);
  });

  it('does not wait for a Retry-After past the deadline or above the longest wait', async () => {
    // Prepare
    const late = harness({ deadlineAt: START + 1000 });
    late.fake.fail('getSecret', answer(429, 1000), { times: 1 });
    const long = harness({ maxDelayMs: 5000 });
    long.fake.fail('getSecret', answer(503, 30_000), { times: 1 });

    // Act
    const lateError = await late.api.getSecret('app', 'db').catch((e: unknown) => e);
    const longError = await long.api.getSecret('app', 'db').catch((e: unknown) => e);

    // Assess
    expect(lateError).toMatchObject({ status: 429, retryAfterMs: 1000 });
    expect(longError).toMatchObject({ status: 503, retryAfterMs: 30_000 });
    expect([late.waits, long.waits]).toEqual([[], []]);
    expect(late.fake.calls('getSecret') + long.fake.calls('getSecret')).toBe(2);
  });

  it('does not retry client errors, conflicts, or requests that got no answer', async () => {
    // Prepare
    const h = harness();
    h.fake.fail('getSecret', () => new SyncError('Forbidden', 'forbidden', { status: 403 }), { times: 1 });
    h.fake.fail('replaceSecret', () => new SyncError('Conflict', 'modified concurrently', { status: 409 }), {
      times: 1,
    });
    h.fake.fail(
      'listWorkloads',
      () =>
        new ClusterConnectionError('Timeout', 'response', 'cluster "eu" timed out: no response headers', {
          retryable: true,
        }),
      { times: 1 },
    );

    // Act
    const errors = await Promise.all([
      h.api.getSecret('app', 'db').catch((e: unknown) => e),
      h.api.replaceSecret({ ...secret, resourceVersion: '1' }).catch((e: unknown) => e),
      h.api.listWorkloads('app', 'Deployment').catch((e: unknown) => e),
    ]);

    // Assess
    expect(errors.map((e) => (e as SyncError).code)).toEqual(['Forbidden', 'Conflict', 'Timeout']);
    expect(h.waits).toEqual([]);
    expect(h.fake.calls('getSecret') + h.fake.calls('replaceSecret') + h.fake.calls('listWorkloads')).toBe(3);
  });

  it('retries the writes that are safe to repeat, and a delete only with preconditions', async () => {
    // Prepare
    const h = harness();
    h.fake.seedWorkload({ namespace: 'app', name: 'web' });
    for (const method of [
      'createSecret',
      'replaceSecret',
      'clearSecretAnnotation',
      'patchTemplateAnnotations',
    ] as const) {
      h.fake.fail(method, answer(503), { times: 1 });
    }
    h.fake.fail('deleteSecret', answer(503), { times: 2 });

    // Act
    const created = await h.api.createSecret({ ...secret, annotations: { marker: 'm1' } });
    const replaced = await h.api.replaceSecret({
      ...secret,
      annotations: { marker: 'm1' },
      resourceVersion: created.resourceVersion,
    });
    const cleared = await h.api.clearSecretAnnotation('app', 'db', 'marker', 'm1');
    await h.api.patchTemplateAnnotations('app', 'Deployment', 'web', { a: 'b' }, {});
    const unconditional = await h.api.deleteSecret('app', 'db').catch((e: unknown) => e);
    await h.api.deleteSecret('app', 'db', {
      uid: replaced.uid,
      resourceVersion: (await h.fake.getSecret('app', 'db'))?.resourceVersion ?? '',
    });

    // Assess
    expect(h.retries.map((r) => r.call)).toEqual([
      'createSecret',
      'replaceSecret',
      'clearSecretAnnotation',
      'patchTemplateAnnotations',
      'deleteSecret',
    ]);
    expect(cleared).toBe(true);
    expect(h.fake.workload('app', 'web').templateAnnotations).toEqual({ a: 'b' });
    expect(unconditional).toMatchObject({ status: 503 });
    expect(h.fake.calls('deleteSecret')).toBe(3);
    expect(h.fake.secret('app', 'db')).toBeUndefined();
  });
});
