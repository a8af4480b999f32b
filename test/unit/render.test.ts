import { describe, expect, it } from 'vitest';
import { SyncError } from '../../lib/errors.js';
import {
  contentHash,
  HASH_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  SOURCE_ANNOTATION,
  VERSION_ANNOTATION,
} from '../../lib/sync/names.js';
import { renderData, renderSecret } from '../../lib/sync/render.js';
import { b64, secretValue, targetConfig } from '../support/fakes.js';

const WHERE = { namespace: 'app', name: 'db', source: 'app/db' };
/** A value that must never appear in an error message. */
const CANARY = 'hunter2-CANARY-7f3a9c';

function thrown(fn: () => unknown): SyncError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SyncError);
    return error as SyncError;
  }
  throw new Error('expected a SyncError');
}

describe('renderData', () => {
  it('takes every top-level key of a JSON secret and JSON-stringifies non-string values', () => {
    // Prepare
    const value = secretValue(JSON.stringify({ user: 'app', port: 5432, tls: true, opts: { a: [1] }, gone: null }));

    // Act
    const data = renderData(value, targetConfig(), 'app/db');

    // Assess
    expect(data).toEqual({ user: b64('app'), port: b64('5432'), tls: b64('true'), opts: b64('{"a":[1]}') });
  });

  it('takes chosen keys under new names, including nested paths', () => {
    // Prepare
    const value = secretValue(JSON.stringify({ username: 'app', password: CANARY, endpoint: { host: 'db.local' } }));
    const target = targetConfig({
      keys: { DB_USER: 'username', DB_PASSWORD: 'password', DB_HOST: { path: 'endpoint.host' } },
    });

    // Act
    const data = renderData(value, target, 'app/db');

    // Assess
    expect(data).toEqual({ DB_USER: b64('app'), DB_PASSWORD: b64(CANARY), DB_HOST: b64('db.local') });
  });

  it('puts the whole SecretString under asKey, JSON or not', () => {
    // Act
    const data = renderData(secretValue(`{"a":"${CANARY}"}`), targetConfig({ asKey: 'config.json' }), 'app/db');

    // Assess
    expect(data).toEqual({ 'config.json': b64(`{"a":"${CANARY}"}`) });
  });

  it('puts SecretBinary bytes under asKey unchanged', () => {
    // Prepare
    const bytes = new Uint8Array([0, 255, 1, 128]);

    // Act
    const data = renderData(secretValue(bytes), targetConfig({ asKey: 'keystore.p12' }), 'app/db');

    // Assess
    expect(Buffer.from(data['keystore.p12'] ?? '', 'base64')).toEqual(Buffer.from(bytes));
  });

  it('refuses a non-JSON secret when keys are mapped, without quoting the value', () => {
    // Prepare
    const value = secretValue(`not-json ${CANARY}`);

    // Act
    const error = thrown(() => renderData(value, targetConfig({ keys: { A: 'a' } }), 'app/db'));

    // Assess
    expect(error.code).toBe('SecretNotJson');
    expect(error.message).toContain('"app/db"');
    expect(error.message).not.toContain(CANARY);
    expect(JSON.stringify(error)).not.toContain(CANARY);
  });

  it('refuses JSON that is not an object, without quoting the value', () => {
    // Act
    const error = thrown(() => renderData(secretValue(`["${CANARY}"]`), targetConfig(), 'app/db'));

    // Assess
    expect(error.code).toBe('SecretNotJson');
    expect(error.message).toContain('array');
    expect(error.message).not.toContain(CANARY);
  });

  it('refuses SecretBinary when keys are mapped', () => {
    // Act
    const error = thrown(() => renderData(secretValue(new Uint8Array([1])), targetConfig(), 'app/db'));

    // Assess
    expect(error.code).toBe('SecretNotJson');
    expect(error.message).toContain('asKey');
  });

  it('names every missing key and no value', () => {
    // Prepare
    const value = secretValue(JSON.stringify({ username: CANARY, nested: { other: CANARY } }));
    const target = targetConfig({ keys: { A: 'username', B: 'password', C: { path: 'nested.host' } } });

    // Act
    const error = thrown(() => renderData(value, target, 'app/db'));

    // Assess
    expect(error.code).toBe('KeyNotFound');
    expect(error.message).toBe('secret "app/db" has no keys "password", "nested.host" (mapped in "keys")');
  });

  it('refuses JSON keys that are not valid Secret keys when taking all keys', () => {
    // Act
    const error = thrown(() => renderData(secretValue(JSON.stringify({ 'a b': CANARY })), targetConfig(), 'x'));

    // Assess
    expect(error.code).toBe('KeyNotFound');
    expect(error.message).toContain('"a b"');
    expect(error.message).not.toContain(CANARY);
  });
});

describe('renderSecret', () => {
  it('renders data, type, our label, source annotations and the content hash', () => {
    // Prepare
    const value = secretValue(JSON.stringify({ password: 'p' }), 'app/db', 'v7');
    const target = targetConfig({ labels: { team: 'a' }, annotations: { note: 'n' } });

    // Act
    const desired = renderSecret(value, target, WHERE);

    // Assess
    expect(desired).toEqual({
      namespace: 'app',
      name: 'db',
      type: 'Opaque',
      data: { password: b64('p') },
      labels: { team: 'a', [MANAGED_BY_LABEL]: MANAGED_BY_VALUE },
      annotations: {
        note: 'n',
        [HASH_ANNOTATION]: desired.hash,
        [SOURCE_ANNOTATION]: value.arn,
        [VERSION_ANNOTATION]: 'v7',
      },
      hash: contentHash('Opaque', { password: b64('p') }),
      source: { arn: value.arn, name: 'app/db' },
    });
    expect(desired.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a TLS Secret without tls.key', () => {
    // Prepare
    const value = secretValue(JSON.stringify({ cert: 'C', key: CANARY }));
    const target = targetConfig({ type: 'kubernetes.io/tls', keys: { 'tls.crt': 'cert' } });

    // Act
    const error = thrown(() => renderSecret(value, target, WHERE));

    // Assess
    expect(error.code).toBe('KeyNotFound');
    expect(error.message).toContain('"tls.key"');
    expect(error.message).not.toContain('"tls.crt"');
    expect(error.message).not.toContain(CANARY);
  });

  it('renders a TLS Secret that has both keys', () => {
    // Prepare
    const value = secretValue(JSON.stringify({ cert: 'C', key: 'K' }));
    const target = targetConfig({ type: 'kubernetes.io/tls', keys: { 'tls.crt': 'cert', 'tls.key': 'key' } });

    // Act
    const desired = renderSecret(value, target, WHERE);

    // Assess
    expect(desired.type).toBe('kubernetes.io/tls');
    expect(Object.keys(desired.data).sort()).toEqual(['tls.crt', 'tls.key']);
  });

  it('refuses data over 1 MiB', () => {
    // Prepare
    const value = secretValue(JSON.stringify({ blob: 'x'.repeat(1024 * 1024) }));

    // Act
    const error = thrown(() => renderSecret(value, targetConfig(), WHERE));

    // Assess
    expect(error.code).toBe('TooLarge');
    expect(error.message).toContain('app/db');
    expect(error.message.length).toBeLessThan(200);
  });

  it('accepts data just under 1 MiB', () => {
    // Prepare
    const value = secretValue(JSON.stringify({ blob: 'x'.repeat(1024 * 1024 - 10) }));

    // Act
    const desired = renderSecret(value, targetConfig(), WHERE);

    // Assess
    expect(Object.keys(desired.data)).toEqual(['blob']);
  });

  it('gives the same hash whatever the key order, and another hash for another type or value', () => {
    // Prepare
    const one = secretValue(JSON.stringify({ a: '1', b: '2' }));
    const swapped = secretValue(JSON.stringify({ b: '2', a: '1' }));
    const changed = secretValue(JSON.stringify({ a: '1', b: '3' }));

    // Act
    const hash = renderSecret(one, targetConfig(), WHERE).hash;
    const hashSwapped = renderSecret(swapped, targetConfig(), WHERE).hash;
    const hashChanged = renderSecret(changed, targetConfig(), WHERE).hash;
    const hashOtherType = renderSecret(one, targetConfig({ type: 'example.com/custom' }), WHERE).hash;

    // Assess
    expect(hashSwapped).toBe(hash);
    expect(hashChanged).not.toBe(hash);
    expect(hashOtherType).not.toBe(hash);
  });

  it('does not let a version change alone change the hash', () => {
    // Act
    const v1 = renderSecret(secretValue('{"a":"1"}', 'app/db', 'v1'), targetConfig(), WHERE);
    const v2 = renderSecret(secretValue('{"a":"1"}', 'app/db', 'v2'), targetConfig(), WHERE);

    // Assess
    expect(v2.hash).toBe(v1.hash);
  });
});
