/**
 * Bad input corpus: events, configuration files, secret payloads, manual backfill input and cluster state that the
 * sync must refuse. Each case asserts its own message (naming the field, key, secret, Secret or cluster) and that
 * nothing was written to the real clusters.
 */
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { beforeAll, describe, expect, it } from 'vitest';
import * as helpers from './helpers.js';

const { output, guard, run } = helpers.reliabilityRun();
const prefix = `rel/bad-${run}`;
let c1: string;
let c2: string;
let ns: string;
let unbound: string;

/** Every Secret name a case could have written; none may exist at the end. */
const mustNotExist = new Set<string>();

async function secretExists(cluster: string, namespace: string, name: string): Promise<boolean> {
  return (await helpers.findSecret(cluster, namespace, name)) !== undefined;
}

async function resourceVersion(cluster: string, namespace: string, name: string): Promise<string | undefined> {
  return (await helpers.adminApis(cluster).core.readNamespacedSecret({ namespace, name })).metadata?.resourceVersion;
}

function configWith(syncs: string, clusters = [c1, c2]): string {
  return `clusters:\n${helpers.kubeconfigClusters(clusters)}\nsyncs:\n${syncs}`;
}

/**
 * A handler configured with one seeded secret written to `target` on both clusters and one secret that does not
 * exist (`ghost`, on the first cluster); neither Secret may exist at the end.
 */
async function handlerWithGhost(
  name: helpers.FunctionName,
  label: string,
  target: string,
  ghost: string,
): Promise<{ handler: helpers.Handler; good: helpers.SeededSecret }> {
  const value = { password: `${label}-pw-${run}-Qv7` };
  guard.seed(`${label} secret`, value);
  const good = await helpers.createSecret(`${prefix}/${label}`, value);
  mustNotExist.add(target);
  mustNotExist.add(ghost);
  const handler = await helpers.loadFunction(
    name,
    configWith(`  - source: { secret: ${good.name} }
    targets:
      - { clusters: [${c1}, ${c2}], namespaces: [${ns}], secret: ${target} }
  - source: { secret: ${prefix}/${ghost} }
    targets:
      - { clusters: [${c1}], namespaces: [${ns}], secret: ${ghost} }
`),
  );
  return { handler, good };
}

/** The error a handler threw, collected for the leak scan; fails the test when it returned instead. */
async function failure(
  handler: helpers.Handler,
  event: unknown,
): Promise<Error & { code?: string; report?: helpers.Report }> {
  const { result, error } = await helpers.invoke(handler, event);
  guard.collect(result ?? null);
  expect(error, `expected an error, got ${JSON.stringify(result)}`).toBeInstanceOf(Error);
  guard.collect(error);
  return error as Error & { code?: string; report?: helpers.Report };
}

beforeAll(async () => {
  const info = helpers.stack();
  [c1, c2] = [info.clusters[0] as string, info.clusters[1] as string];
  ns = (await helpers.freshNamespace([c1, c2], { prefix: 'rel-bad' })).name;
  unbound = (await helpers.freshNamespace([c1], { prefix: 'rel-bad-unbound', bound: false })).name;
});

describe('bad events (on-rotation)', () => {
  let handler: helpers.Handler;
  let good: helpers.SeededSecret;
  const target = 'event-target';

  beforeAll(async () => {
    ({ handler, good } = await handlerWithGhost('on-rotation', 'event', target, 'ghost'));
  });

  const valid = () => helpers.labelEvent(good, good.versionId);
  const withDetail = (detail: Record<string, unknown>) => ({ ...valid(), detail });
  const without = (field: string) => {
    const event: Record<string, unknown> = valid();
    delete event[field];
    return event;
  };
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['a string instead of an event', () => 'Secret Label Updated', /event must be an object, got a string/],
    ['null', () => null, /event must be an object, got null/],
    ['an array of events', () => [valid()], /event must be an object, got an array/],
    ['no detail-type', () => without('detail-type'), /"detail-type" is missing/],
    ['no detail', () => without('detail'), /"detail" is missing/],
    ['another source', () => ({ ...valid(), source: 'aws.ec2' }), /"source" must be "aws\.secretsmanager"/],
    ['a number as source', () => ({ ...valid(), source: 42 }), /"source" must be a string/],
    ['detail as a string', () => ({ ...valid(), detail: 'AWSCURRENT' }), /"detail" must be an object/],
    ['resources as a string', () => ({ ...valid(), resources: good.arn }), /"resources" must be an array/],
    [
      'no labelUpdated',
      () => withDetail({ name: good.name, versionId: good.versionId }),
      /"detail\.labelUpdated" is missing/,
    ],
    [
      'labelUpdated as a number',
      () => withDetail({ name: good.name, labelUpdated: 7 }),
      /"detail\.labelUpdated" must be a string, got a number/,
    ],
    [
      'no secret id anywhere',
      () => ({ ...withDetail({ labelUpdated: 'AWSCURRENT' }), resources: [] }),
      /Secret Label Updated event names no secret \(looked at .*detail\.name/,
    ],
    [
      'a CloudTrail event without eventName',
      () => ({ ...valid(), 'detail-type': 'AWS API Call via CloudTrail', detail: { eventSource: 'x' } }),
      /"detail\.eventName" is missing/,
    ],
    [
      'a CloudTrail PutSecretValue naming no secret',
      () => ({
        ...valid(),
        resources: undefined,
        'detail-type': 'AWS API Call via CloudTrail',
        detail: { eventName: 'PutSecretValue', requestParameters: {} },
      }),
      /PutSecretValue event names no secret/,
    ],
  ];

  it.each(cases)('refuses %s, naming the field', async (_label, make, message) => {
    const error = await failure(handler, make());
    expect(error.name).toBe('InputError');
    expect(error.code).toBe('InvalidEvent');
    expect(error.message).toMatch(message);
  });

  it('notes an event for a secret no sync covers, and does nothing', async () => {
    const stranger = { name: `${prefix}/not-configured`, arn: `${good.arn.replace(/:secret:.*/, ':secret:')}x-AbCdEf` };
    const { result, error } = await helpers.invoke(handler, helpers.labelEvent(stranger, 'v1'));
    guard.collect(result);
    expect(error).toBeUndefined();
    expect((result as helpers.Report).results).toEqual([]);
    expect((result as helpers.Report).notes.join('\n')).toContain(`"${stranger.arn}" matches no sync`);
  });

  it('fails the bindings of a configured secret that does not exist in Secrets Manager, naming it', async () => {
    const ghost = {
      name: `${prefix}/ghost`,
      arn: `${good.arn.replace(/:secret:.*/, ':secret:')}${prefix}/ghost-Zz9Zz9`,
    };
    const error = await failure(handler, helpers.labelEvent({ name: ghost.name, arn: ghost.name }, 'v1'));
    expect(error.message).toContain(`secret "${ghost.name}" not found in Secrets Manager`);
    expect(error.report?.results.map((r) => r.error?.code)).toEqual(['SecretNotFound']);
  });

  it('wrote nothing for any of them', async () => {
    for (const cluster of [c1, c2]) expect(await secretExists(cluster, ns, target)).toBe(false);
    expect(await secretExists(c1, ns, 'ghost')).toBe(false);
  });
});

describe('bad configuration files (cold start)', () => {
  const kc = () => helpers.syncKubeConfigPath();
  const cluster = () => `  ${c1}: { kubeconfig: { path: ${kc()}, context: ${c1} } }`;
  const sync = (target: string, source = `{ secret: ${prefix}/config }`) =>
    `syncs:\n  - source: ${source}\n    targets:\n      - ${target}\n`;
  const ok = () => `{ clusters: [${c1}], namespaces: [${ns}], secret: config-target }`;

  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const cases: Array<[string, () => string, RegExp | (() => RegExp)]> = [
    [
      'an unknown cluster',
      () => `clusters:\n${cluster()}\n${sync(`{ clusters: [nowhere], namespaces: [${ns}] }`)}`,
      /syncs\[0\]\.targets\[0\]\.clusters\[0\]: unknown cluster "nowhere" \(defined: stack-1\)/,
    ],
    [
      'an invalid namespace name',
      () => `clusters:\n${cluster()}\n${sync(`{ clusters: [${c1}], namespaces: [Payments_NS] }`)}`,
      /syncs\[0\]\.targets\[0\]\.namespaces\[0\]: must be a lowercase RFC 1123 label/,
    ],
    [
      'both keys and asKey',
      () =>
        `clusters:\n${cluster()}\n${sync(`{ clusters: [${c1}], namespaces: [${ns}], keys: { a: b }, asKey: value }`)}`,
      /syncs\[0\]\.targets\[0\]\.asKey: "keys" and "asKey" exclude each other/,
    ],
    [
      'an invalid AWS region',
      () =>
        `clusters:\n  prod: { eks: { name: prod, region: europe } }\n${sync(`{ clusters: [prod], namespaces: [${ns}] }`)}`,
      /clusters\.prod\.eks\.region: must be an AWS region such as eu-west-1/,
    ],
    [
      'an invalid role ARN',
      () =>
        `clusters:\n  prod: { eks: { name: prod, region: eu-west-1, roleArn: "arn:aws:iam::12:user/x" } }\n${sync(`{ clusters: [prod], namespaces: [${ns}] }`)}`,
      /clusters\.prod\.eks\.roleArn: must be an IAM role ARN/,
    ],
    ['a YAML syntax error', () => `clusters:\n${cluster()}\nsyncs: [ { source: { secret: x }\n`, /YAML /],
    [
      'two targets writing the same Secret',
      () =>
        `clusters:\n${cluster()}\nsyncs:\n  - source: { secret: a }\n    targets:\n      - ${ok()}\n  - source: { secret: b }\n    targets:\n      - ${ok()}\n`,
      () =>
        new RegExp(
          literal(
            `syncs[1].targets[0]: Secret ${ns}/config-target in cluster "${c1}" is also written by syncs[0].targets[0]`,
          ),
        ),
    ],
    [
      'a misspelt target field',
      () => `clusters:\n${cluster()}\n${sync(`{ clusters: [${c1}], namespace: [${ns}] }`)}`,
      /syncs\[0\]\.targets\[0\]/,
    ],
    [
      'an invalid Secret name',
      () => `clusters:\n${cluster()}\n${sync(`{ clusters: [${c1}], namespaces: [${ns}], secret: App_DB }`)}`,
      /syncs\[0\]\.targets\[0\]\.secret: must be a lowercase RFC 1123 subdomain/,
    ],
    ['no clusters', () => `clusters: {}\n${sync(ok())}`, /clusters: must define a cluster/],
    [
      'a selector source with a fixed Secret name',
      () => `clusters:\n${cluster()}\n${sync(ok(), '{ namePrefix: app/ }')}`,
      /syncs\[0\]\.targets\[0\]\.secret: a selector source matches many secrets/,
    ],
    [
      'a zero bindingConcurrency',
      () => `clusters:\n${cluster()}\ndefaults: { bindingConcurrency: 0 }\n${sync(ok())}`,
      /defaults\.bindingConcurrency/,
    ],
    [
      'a malformed secret ARN',
      () => `clusters:\n${cluster()}\n${sync(ok(), '{ secret: "arn:aws:secretsmanager:oops" }')}`,
      /syncs\[0\]\.source.*must be a secret name or a Secrets Manager ARN/,
    ],
    [
      'an invalid Secret key in keys',
      () =>
        `clusters:\n${cluster()}\n${sync(`{ clusters: [${c1}], namespaces: [${ns}], keys: { "bad key": password } }`)}`,
      /syncs\[0\]\.targets\[0\]\.keys/,
    ],
    [
      'an unknown restart policy',
      () => `clusters:\n${cluster()}\n${sync(`{ clusters: [${c1}], namespaces: [${ns}], restart: always }`)}`,
      /syncs\[0\]\.targets\[0\]\.restart: must be "auto", "annotated", "none" or/,
    ],
    ['an empty file', () => '', /\(root\)|expected object/i],
  ];

  it.each(cases)('refuses %s, naming the place in the file', async (_label, text, message) => {
    const error = await helpers.loadFunction('on-rotation', text()).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    guard.collect(error);
    expect(error?.name).toBe('ConfigError');
    expect(error?.code).toBe('InvalidConfig');
    expect(error?.message).toMatch(typeof message === 'function' ? message() : message);
  });

  it('refuses a missing configuration file, naming the path', async () => {
    const missing = helpers.tempFile('x.yaml', '').replace(/x\.yaml$/, 'missing.yaml');
    const error = await helpers.loadFunction('on-rotation', '', { EKS_SYNC_CONFIG: missing }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    guard.collect(error);
    expect(error?.message).toContain(`${missing}: cannot read configuration file (ENOENT)`);
  });

  it('wrote nothing', async () => {
    expect(await secretExists(c1, ns, 'config-target')).toBe(false);
  });
});

describe('bad secret payloads', () => {
  let handler: helpers.Handler;
  const created = new Map<string, helpers.SeededSecret>();
  const big = 'B'.repeat(60_000);
  const bigKeys = Array.from({ length: 18 }, (_, i) => `k${i}: big`).join(', ');

  const payloads: Array<{
    name: string;
    value?: unknown;
    binary?: Uint8Array;
    target: string;
    message: (secretId: string) => RegExp | string;
    code: string;
  }> = [
    {
      name: 'non-json',
      value: `plain-text-pw-${run}-Lm2`,
      target: 'keys: { PASSWORD: password }',
      message: (id) => `secret "${id}" is not valid JSON, but its target maps keys; use "asKey"`,
      code: 'SecretNotJson',
    },
    {
      name: 'json-array',
      value: `["array-pw-${run}-Kk1"]`,
      target: 'keys: all',
      message: (id) => `secret "${id}" is JSON but not an object (array)`,
      code: 'SecretNotJson',
    },
    {
      name: 'json-string',
      value: JSON.stringify(`scalar-pw-${run}-Ss4`),
      target: 'keys: all',
      message: (id) => `secret "${id}" is JSON but not an object (string)`,
      code: 'SecretNotJson',
    },
    {
      name: 'missing-key',
      value: { username: 'app', pass: `missing-pw-${run}-Mm3` },
      target: 'keys: { PASSWORD: password, USER: username }',
      message: (id) => `secret "${id}" has no key "password" (mapped in "keys")`,
      code: 'KeyNotFound',
    },
    {
      name: 'null-key',
      value: { password: null, other: `null-pw-${run}-Nn5` },
      target: 'keys: { PASSWORD: password }',
      message: (id) => `secret "${id}" has no key "password"`,
      code: 'KeyNotFound',
    },
    {
      name: 'missing-path',
      value: { db: { user: `path-user-${run}-Pp6` } },
      target: 'keys: { DB_PASSWORD: { path: db.password } }',
      message: (id) => `secret "${id}" has no key "db.password"`,
      code: 'KeyNotFound',
    },
    {
      name: 'invalid-key',
      value: { 'bad key!': `badkey-pw-${run}-Bb7`, good: 'x' },
      target: 'keys: all',
      message: (id) => `secret "${id}" has keys that are not valid Secret keys: "bad key!"`,
      code: 'KeyNotFound',
    },
    {
      name: 'too-large',
      value: { big },
      target: `keys: { ${bigKeys} }`,
      message: () => /Secret rel-bad-[^/]+\/too-large would hold \d+ bytes, over the 1 MiB Kubernetes limit/,
      code: 'TooLarge',
    },
    {
      name: 'tls-no-key',
      // `keys: all`: what a secret's value lacks is only known when it is read (a mapping is checked at load).
      value: { 'tls.crt': `-----BEGIN CERTIFICATE-----tls-${run}-Tt8` },
      target: 'type: kubernetes.io/tls, keys: all',
      message: (id) => `Secret type kubernetes.io/tls needs key "tls.key", which secret "${id}" does not provide`,
      code: 'KeyNotFound',
    },
    {
      name: 'binary-with-keys',
      binary: new TextEncoder().encode(`binary-pw-${run}-Yy9`),
      target: 'keys: { PASSWORD: password }',
      message: (id) => `secret "${id}" holds SecretBinary; map it to one key with "asKey"`,
      code: 'SecretNotJson',
    },
  ];

  beforeAll(async () => {
    for (const payload of payloads) {
      const name = `${prefix}/payload-${payload.name}`;
      if (payload.binary !== undefined) {
        guard.seed(`payload ${payload.name}`, new TextDecoder().decode(payload.binary));
        const out = await helpers
          .secretsManager()
          .send(new CreateSecretCommand({ Name: name, SecretBinary: payload.binary }));
        created.set(payload.name, { name, arn: out.ARN as string, versionId: out.VersionId as string });
      } else {
        if (payload.name !== 'too-large') guard.seed(`payload ${payload.name}`, payload.value);
        created.set(payload.name, await helpers.createSecret(name, payload.value));
      }
      mustNotExist.add(payload.name);
    }
    const syncs = payloads
      .map(
        (p) =>
          `  - source: { secret: ${prefix}/payload-${p.name} }\n    targets:\n      - { clusters: [${c1}], namespaces: [${ns}], secret: ${p.name}, ${p.target} }`,
      )
      .join('\n');
    handler = await helpers.loadFunction('on-rotation', configWith(`${syncs}\n`));
  });

  it.each(payloads.map((p) => [p.name, p] as const))('refuses a %s payload with its own message', async (_n, p) => {
    const secret = created.get(p.name) as helpers.SeededSecret;
    const error = await failure(handler, helpers.labelEvent(secret, secret.versionId));
    const result = error.report?.results[0];
    expect(error.report?.results).toHaveLength(1);
    expect(result?.action).toBe('failed');
    expect(result?.error?.code).toBe(p.code);
    // The secret is read, and named, by its configured id whichever form the event used.
    const expected = p.message(secret.name);
    if (typeof expected === 'string') expect(result?.error?.message).toContain(expected);
    else expect(result?.error?.message).toMatch(expected);
    expect(error.message).toContain(`${c1}/${ns}/${p.name}`);
    expect(await secretExists(c1, ns, p.name)).toBe(false);
  });
});

describe('bad manual input (backfill)', () => {
  let handler: helpers.Handler;
  const target = 'backfill-target';

  beforeAll(async () => {
    ({ handler } = await handlerWithGhost('backfill', 'backfill', target, 'backfill-ghost'));
  });

  const cases: Array<[string, unknown, RegExp]> = [
    [
      'an unknown field',
      { secret: ['x'] },
      /unknown field "secret" \(allowed: secrets, clusters, namespaces, dryRun, restart\)/,
    ],
    ['secrets as a string', { secrets: 'x' }, /"secrets" must be an array of strings/],
    [
      'an empty secrets list',
      { secrets: [] },
      /"secrets": omit it to mean every secret; an empty list selects nothing/,
    ],
    ['an empty cluster name', { clusters: [''] }, /"clusters\[0\]": clusters must not be empty strings/],
    ['dryRun as a string', { dryRun: 'yes' }, /"dryRun" must be a boolean/],
    ['an array as input', [{ secrets: ['x'] }], /input must be an object/],
    ['an unknown cluster', { clusters: ['nowhere'] }, /unknown cluster "nowhere" \(defined: stack-1, stack-2\)/],
    ['an unknown secret', { secrets: ['rel/none'] }, /secret "rel\/none" matches no sync in the configuration/],
  ];

  it.each(cases)('refuses %s, naming it', async (_label, input, message) => {
    const error = await failure(handler, input);
    expect(error.name).toBe('InputError');
    expect(error.code).toBe('InvalidInput');
    expect(error.message).toMatch(message);
  });

  it('fails a configured secret missing from Secrets Manager, naming it, and only that one', async () => {
    // A manual invoke returns the report with the failed binding; with failOnError it throws, naming the secret.
    const { result, error } = await helpers.invoke(handler, { secrets: [`${prefix}/backfill-ghost`] });
    guard.collect(result ?? error ?? null);
    expect(error).toBeUndefined();
    const results = (result as helpers.Report).results;
    expect(results.map((r) => [r.secret, r.action, r.error?.code])).toEqual([
      ['backfill-ghost', 'failed', 'SecretNotFound'],
    ]);
    expect(results[0]?.error?.message).toContain(`secret "${prefix}/backfill-ghost" not found in Secrets Manager`);
    const thrown = await failure(handler, { secrets: [`${prefix}/backfill-ghost`], failOnError: true });
    expect(thrown.message).toContain(`secret "${prefix}/backfill-ghost" not found in Secrets Manager`);
  });

  it('wrote nothing', async () => {
    for (const cluster of [c1, c2]) expect(await secretExists(cluster, ns, target)).toBe(false);
    expect(await secretExists(c1, ns, 'backfill-ghost')).toBe(false);
  });
});

describe('cluster state the sync must not change', () => {
  let secret: helpers.SeededSecret;

  beforeAll(async () => {
    const value = { password: `state-pw-${run}-Hh1`, username: 'app' };
    guard.seed('state secret', value);
    secret = await helpers.createSecret(`${prefix}/state`, value);
  });

  async function rotate(
    target: string,
    clusters = `[${c1}]`,
    kubeconfigs?: string,
  ): Promise<Error & { report?: helpers.Report }> {
    const config = `clusters:\n${kubeconfigs ?? helpers.kubeconfigClusters([c1])}\nsyncs:\n  - source: { secret: ${secret.name} }\n    targets:\n      - { clusters: ${clusters}, ${target} }\n`;
    const handler = await helpers.loadFunction('on-rotation', config);
    return failure(handler, helpers.labelEvent(secret, secret.versionId));
  }

  it('refuses to change the type of a Secret it manages, naming both types', async () => {
    const { core } = helpers.adminApis(c1);
    const first = await helpers.loadFunction(
      'on-rotation',
      `clusters:\n${helpers.kubeconfigClusters([c1])}\nsyncs:\n  - source: { secret: ${secret.name} }\n    targets:\n      - { clusters: [${c1}], namespaces: [${ns}], secret: typed }\n`,
    );
    const { error: firstError, result } = await helpers.invoke(first, helpers.labelEvent(secret, secret.versionId));
    guard.collect(result);
    expect(firstError).toBeUndefined();
    const before = await resourceVersion(c1, ns, 'typed');

    const error = await rotate(`namespaces: [${ns}], secret: typed, type: example.com/custom`);

    expect(error.report?.results[0]?.error?.code).toBe('TypeChange');
    expect(error.message).toContain(
      `Secret ${ns}/typed in cluster "${c1}" has type Opaque, the configuration wants example.com/custom`,
    );
    expect(await resourceVersion(c1, ns, 'typed')).toBe(before);
    expect((await core.readNamespacedSecret({ namespace: ns, name: 'typed' })).type).toBe('Opaque');
  });

  it('refuses to update an immutable Secret, naming it', async () => {
    const { core } = helpers.adminApis(c1);
    await core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'frozen', labels: { 'app.kubernetes.io/managed-by': 'eks-secret-sync' } },
        immutable: true,
        stringData: { password: 'frozen-old' },
      },
    });
    const before = await resourceVersion(c1, ns, 'frozen');

    const error = await rotate(`namespaces: [${ns}], secret: frozen`);

    expect(error.report?.results[0]?.error?.code).toBe('Immutable');
    expect(error.message).toContain(`Secret ${ns}/frozen in cluster "${c1}" is immutable and differs`);
    expect(await resourceVersion(c1, ns, 'frozen')).toBe(before);
  });

  it('never writes a Secret owned by External Secrets Operator', async () => {
    const { core } = helpers.adminApis(c1);
    await core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'eso-owned', annotations: { 'reconcile.external-secrets.io/data-hash': 'abc' } },
        stringData: { password: 'eso-value' },
      },
    });
    const before = await resourceVersion(c1, ns, 'eso-owned');

    const error = await rotate(`namespaces: [${ns}], secret: eso-owned, adopt: true`);

    expect(error.report?.results[0]?.error?.code).toBe('OwnedByOtherController');
    expect(error.message).toContain(`Secret ${ns}/eso-owned in cluster "${c1}" is owned by External Secrets Operator`);
    expect(await resourceVersion(c1, ns, 'eso-owned')).toBe(before);
  });

  it('fails a namespace that does not exist, naming it', async () => {
    const missing = `rel-missing-${run}`;
    const error = await rotate(`namespaces: [${missing}], secret: nowhere`);
    const result = error.report?.results[0];
    // Without a RoleBinding there (it would live in the namespace) the API server answers 403 before 404.
    expect(['NamespaceNotFound', 'Forbidden']).toContain(result?.error?.code);
    expect(result?.error?.message).toContain(`namespace "${missing}"`);
    expect(result?.error?.message).toContain(`cluster "${c1}"`);
  });

  it('fails a namespace the identity is not bound in, naming it', async () => {
    const error = await rotate(`namespaces: [${unbound}], secret: unbound-target`);
    expect(error.report?.results[0]?.error?.code).toBe('Forbidden');
    expect(error.message).toContain(`namespace "${unbound}" of cluster "${c1}"`);
    expect(await secretExists(c1, unbound, 'unbound-target')).toBe(false);
  });

  it('fails a cluster whose kubeconfig context does not exist, naming cluster and context', async () => {
    const kubeconfigs = `  ${c1}: { kubeconfig: { path: ${helpers.syncKubeConfigPath()}, context: no-such-context } }`;
    const error = await rotate(`namespaces: [${ns}], secret: no-context`, `[${c1}]`, kubeconfigs);
    expect(error.report?.results[0]?.error?.code).toBe('ClusterUnavailable');
    expect(error.message).toContain(`cluster "${c1}"`);
    expect(error.message).toContain('has no context "no-such-context"');
    expect(await secretExists(c1, ns, 'no-context')).toBe(false);
  });
});

describe('after the whole corpus', () => {
  it('no refused Secret exists in either cluster', async () => {
    for (const name of mustNotExist) {
      for (const cluster of [c1, c2]) expect(await secretExists(cluster, ns, name), `${cluster}/${name}`).toBe(false);
    }
  });

  it('no seeded value appears in any log line, metric, report or error', () => {
    expect(guard.seedCount).toBeGreaterThan(10);
    expect(guard.collectedCount).toBeGreaterThan(50);
    expect(guard.hits(output.text())).toEqual([]);
  });
});
