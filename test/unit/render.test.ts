import { describe, expect, it } from 'vitest';
import type { TargetConfig } from '../../lib/config/index.js';
import {
  contentHash,
  HASH_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  SOURCE_ANNOTATION,
  VERSION_ANNOTATION,
} from '../../lib/domain/names.js';
import { SyncError } from '../../lib/errors.js';
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

/** The data rendered from the JSON SecretString `json` of `app/db` with `keys` mapped (the Prepare of most cases). */
function renderKeys(json: string, keys: TargetConfig['keys']): Record<string, string> {
  return renderData(secretValue(json), targetConfig({ keys }), 'app/db');
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
    // Act
    const data = renderKeys(JSON.stringify({ username: 'app', password: CANARY, endpoint: { host: 'db.local' } }), {
      DB_USER: 'username',
      DB_PASSWORD: 'password',
      DB_HOST: { path: 'endpoint.host' },
    });

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

describe('renderData: values as stored', () => {
  it('keeps the exact JSON text of numbers, booleans, objects and arrays (no float rounding, no re-spacing)', () => {
    // Prepare
    const text =
      '{ "big": 12345678901234567890, "ratio": 0.10, "exp": 1E+2, "neg": -0, "t": true,\n  "opts": { "a" : [1.50, 2], "s": "x}]\\"" } }';

    // Act
    const data = renderData(secretValue(text), targetConfig(), 'app/db');

    // Assess
    expect(data).toEqual({
      big: b64('12345678901234567890'),
      ratio: b64('0.10'),
      exp: b64('1E+2'),
      neg: b64('-0'),
      t: b64('true'),
      opts: b64('{ "a" : [1.50, 2], "s": "x}]\\"" }'),
    });
  });

  it('keeps the exact text of mapped keys and nested paths, array items included', () => {
    // Act
    const data = renderKeys('{"db": {"port": 5432.0, "hosts": [ {"n": 1.10}, "b" ]}, "id": 9007199254740993}', {
      PORT: { path: 'db.port' },
      FIRST: { path: 'db.hosts.0' },
      N: { path: 'db.hosts.0.n' },
      SECOND: { path: 'db.hosts.1' },
      ID: 'id',
    });

    // Assess
    expect(data).toEqual({
      PORT: b64('5432.0'),
      FIRST: b64('{"n": 1.10}'),
      N: b64('1.10'),
      SECOND: b64('b'),
      ID: b64('9007199254740993'),
    });
  });

  it('decodes string escapes and takes the last of duplicated keys, as JSON.parse does', () => {
    // Act
    const data = renderData(secretValue('{"p": "first", "p": "p\\u0041ss\\n\\"q\\""}'), targetConfig(), 'app/db');

    // Assess
    expect(data).toEqual({ p: b64('pAss\n"q"') });
  });

  it('finds no array length or out-of-range item through a path', () => {
    // Act
    const error = thrown(() =>
      renderData(
        secretValue('{"a": [1]}'),
        targetConfig({ keys: { L: { path: 'a.length' }, X: { path: 'a.1' }, Y: { path: 'a.01' } } }),
        'app/db',
      ),
    );

    // Assess
    expect(error.message).toBe('secret "app/db" has no keys "a.length", "a.1", "a.01" (mapped in "keys")');
  });
});

describe('renderData: templates', () => {
  it('renders ESO-style and plain variables raw: no HTML escaping, numbers as their text', () => {
    // Act
    const data = renderKeys(
      JSON.stringify({ username: 'app', password: `<&"'>${CANARY}`, host: 'db.local', port: 5432 }),
      {
        DATABASE_URL: { template: 'postgres://{{ .username }}:{{ password }}@{{{ host }}}:{{& .port }}/app{{! why }}' },
      },
    );

    // Assess
    expect(data).toEqual({ DATABASE_URL: b64(`postgres://app:<&"'>${CANARY}@db.local:5432/app`) });
  });

  it('reads nested values, keys with dots and array items through JMESPath variables', () => {
    // Act
    const data = renderKeys(JSON.stringify({ db: { host: 'h', 'tls.mode': 'verify' }, hosts: ['a', 'b'] }), {
      DSN: { template: '{{ .db.host }}/{{ db."tls.mode" }}/{{ hosts[1] }}' },
    });

    // Assess
    expect(data).toEqual({ DSN: b64('h/verify/b') });
  });

  it('does not render a value that itself looks like a template', () => {
    // Act
    const data = renderData(
      secretValue(JSON.stringify({ a: '{{ b }}', b: CANARY })),
      targetConfig({ keys: { A: { template: 'x{{ a }}' } } }),
      'app/db',
    );

    // Assess
    expect(data).toEqual({ A: b64('x{{ b }}') });
  });

  it('names the template key and each missing variable, no value, and renders no key at all', () => {
    // Prepare
    const value = secretValue(JSON.stringify({ username: CANARY, password: CANARY, port: 1 }));
    const target = targetConfig({
      keys: {
        USER: 'username',
        URL: { template: `p://{{ .username }}:{{ .password }}@{{ .host }}{{ length(port) }}` },
      },
    });

    // Act
    const error = thrown(() => renderData(value, target, 'app/db'));

    // Assess
    expect(error.code).toBe('KeyNotFound');
    expect(error.message).toBe(
      'secret "app/db" has no keys "host" (variable {{ .host }} of the template of "URL"), "length(port)" (variable {{ length(port) }} of the template of "URL", a function got a value of the wrong type) (mapped in "keys")',
    );
    expect(JSON.stringify(error)).not.toContain(CANARY);
    expect(String(error.cause ?? '')).not.toContain(CANARY);
  });

  it('treats a null value as missing, like a mapped key', () => {
    // Act
    const error = thrown(() =>
      renderData(secretValue('{"a": null}'), targetConfig({ keys: { A: { template: '{{ a }}' } } }), 'app/db'),
    );

    // Assess
    expect(error.message).toBe(
      'secret "app/db" has no key "a" (variable {{ a }} of the template of "A") (mapped in "keys")',
    );
  });
});

describe('renderData: JMESPath keys', () => {
  it('reaches a key with dots under an object, which a dotted path cannot', () => {
    // Act
    const data = renderKeys(JSON.stringify({ tls: { 'tls.crt': 'CERT', 'tls.key': CANARY } }), {
      'tls.crt': { jmespath: 'tls."tls.crt"' },
      'tls.key': { jmespath: 'tls."tls.key"' },
    });

    // Assess
    expect(data).toEqual({ 'tls.crt': b64('CERT'), 'tls.key': b64(CANARY) });
  });

  it('gives non-string results as compact JSON, and functions and projections their result', () => {
    // Act
    const data = renderKeys('{"port": 5432, "hosts": [ {"n": "a"}, {"n": "b"} ], "on": true}', {
      PORT: { jmespath: 'port' },
      NAMES: { jmespath: 'hosts[*].n' },
      JOINED: { jmespath: "join(',', hosts[*].n)" },
      ON: { jmespath: 'on' },
    });

    // Assess
    expect(data).toEqual({ PORT: b64('5432'), NAMES: b64('["a","b"]'), JOINED: b64('a,b'), ON: b64('true') });
  });

  it("finds only the secret's own keys, never Object.prototype's", () => {
    // Prepare
    const value = secretValue('{"o": {}, "__proto__": {"x": "own"}}');
    const target = targetConfig({
      keys: { C: { jmespath: 'constructor' }, D: { jmespath: 'o.toString' }, P: { jmespath: '"__proto__".x' } },
    });

    // Act
    const error = thrown(() => renderData(value, target, 'app/db'));

    // Assess
    expect(error.message).toBe(
      'secret "app/db" has no keys "constructor" (the JMESPath of "C"), "o.toString" (the JMESPath of "D") (mapped in "keys")',
    );
  });

  it('names the expression and the key when nothing is found, never the value', () => {
    // Act
    const error = thrown(() =>
      renderData(
        secretValue(JSON.stringify({ tls: { crt: CANARY } })),
        targetConfig({ keys: { CRT: { jmespath: 'tls."tls.crt"' }, LEN: { jmespath: 'abs(tls.crt)' } } }),
        'app/db',
      ),
    );

    // Assess
    expect(error.message).toBe(
      'secret "app/db" has no keys "tls."tls.crt"" (the JMESPath of "CRT"), "abs(tls.crt)" (the JMESPath of "LEN", a function got a value of the wrong type) (mapped in "keys")',
    );
    expect(JSON.stringify(error)).not.toContain(CANARY);
  });
});

describe('renderData: nothing half-written', () => {
  it('refuses a __proto__ key, naming the secret and the key, not the value', () => {
    // Act
    const error = thrown(() =>
      renderData(secretValue(`{"user": "app", "__proto__": "${CANARY}"}`), targetConfig(), 'app/db'),
    );

    // Assess
    expect(error.code).toBe('KeyNotFound');
    expect(error.message).toBe(
      'secret "app/db" has keys that are not valid Secret keys: "__proto__" (must not be "__proto__" (JavaScript objects drop it)); map them with "keys"',
    );
  });

  it('syncs a __proto__ JSON key mapped under another name', () => {
    // Act
    const data = renderData(
      secretValue(`{"__proto__": "${CANARY}"}`),
      targetConfig({ keys: { PROTO: '__proto__' } }),
      'app/db',
    );

    // Assess
    expect(data).toEqual({ PROTO: b64(CANARY) });
  });

  it.each([
    ['{}', 'an empty JSON object'],
    ['{"a": null, "b": null}', 'every value is null'],
  ])('refuses %s, which would write an empty Secret', (text, why) => {
    // Act
    const error = thrown(() => renderData(secretValue(text), targetConfig({ keys: 'all' }), 'app/db'));

    // Assess
    expect(error.code).toBe('KeyNotFound');
    expect(error.message).toBe(`secret "app/db" has no keys to sync (${why}); an empty Secret is not written`);
  });

  it('refuses the key names Kubernetes refuses (IsConfigMapKey), each with its reason', () => {
    // Prepare
    const long = 'k'.repeat(254);
    const value = secretValue(JSON.stringify({ '.': CANARY, '..': 'x', '..x': 'x', [long]: 'x', 'a b': 'x', ok: 'x' }));

    // Act
    const error = thrown(() => renderData(value, targetConfig(), 'app/db'));

    // Assess
    expect(error.code).toBe('KeyNotFound');
    expect(error.message).toContain('"." (must not be ".")');
    expect(error.message).toContain('".." (must not be "..")');
    expect(error.message).toContain('"..x" (must not start with "..")');
    expect(error.message).toContain(`"${'k'.repeat(80)}"... (254 characters) (must be at most 253 characters)`);
    expect(error.message).toContain('"a b" (must consist of alphanumerics, "-", "_" or ".")');
    expect(error.message).not.toContain('"ok"');
    expect(error.message).not.toContain(CANARY);
  });

  it('accepts the key names Kubernetes accepts: dot files, inner double dots, 253 characters', () => {
    // Prepare
    const longest = 'k'.repeat(253);

    // Act
    const data = renderData(
      secretValue(JSON.stringify({ '.env': 'a', 'a..b': 'b', '_-.': 'c', [longest]: 'd' })),
      targetConfig(),
      'app/db',
    );

    // Assess
    expect(Object.keys(data).sort()).toEqual(['.env', '_-.', 'a..b', longest].sort());
  });

  it('refuses an invalid mapped or asKey Secret key at render time too (configuration built in code)', () => {
    // Act
    const mapped = thrown(() => renderData(secretValue('{"a": "1"}'), targetConfig({ keys: { '..': 'a' } }), 'x'));
    const whole = thrown(() => renderData(secretValue('{"a": "1"}'), targetConfig({ asKey: '.' }), 'x'));

    // Assess
    expect(mapped.message).toContain('".." (must not be "..")');
    expect(whole.message).toContain('"." (must not be ".")');
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

  it('refuses a basic-auth Secret with neither username nor password, naming both keys', () => {
    // Prepare: `keys: all` is only known at render time; the configuration check cannot see it.
    const value = secretValue(JSON.stringify({ user: 'u', pass: CANARY }));
    const target = targetConfig({ type: 'kubernetes.io/basic-auth' });

    // Act
    const error = thrown(() => renderSecret(value, target, WHERE));

    // Assess
    expect(error.code).toBe('KeyNotFound');
    expect(error.message).toContain('needs at least one of the keys "username", "password"');
    expect(error.message).not.toContain(CANARY);
    expect(renderSecret(secretValue(JSON.stringify({ username: 'u' })), target, WHERE).type).toBe(
      'kubernetes.io/basic-auth',
    );
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
