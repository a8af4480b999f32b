/**
 * Data fidelity and what the API server says, on the real stack through the real on-rotation handler: values reach
 * the Kubernetes Secret byte for byte as stored in Secrets Manager; a version that would render a bad Secret
 * (`__proto__`, no key, a key name Kubernetes refuses) changes nothing in the cluster; and a real API server's
 * rejection messages (its own `.dockerconfigjson` validation, a ValidatingAdmissionPolicy that templates the
 * request's data into its message) never reach a report, a log line or the thrown error.
 */
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployment } from '../../support/workloads.js';
import * as helpers from './helpers.js';

const { output, guard, run } = helpers.reliabilityRun();
const prefix = `rel/fid-${run}`;
let c1: string;
let ns: string;

function configFor(secret: helpers.SeededSecret, target: string): string {
  return `clusters:\n${helpers.kubeconfigClusters([c1])}\nsyncs:\n  - source: { secret: ${secret.name} }\n    targets:\n      - { clusters: [${c1}], namespaces: [${ns}], ${target} }\n`;
}

/** Runs the real handler on a label event for `versionId`; everything it produced is kept for the leak scan. */
async function rotate(
  handler: helpers.Handler,
  secret: helpers.SeededSecret,
  versionId: string,
): Promise<{ report?: helpers.Report; error?: Error & { report?: helpers.Report } }> {
  const { result, error } = await helpers.invoke(handler, helpers.labelEvent(secret, versionId));
  guard.collect(result ?? null);
  if (error !== undefined) guard.collect(error);
  return {
    ...(result === undefined ? {} : { report: result as helpers.Report }),
    ...(error === undefined ? {} : { error }),
  };
}

function readSecret(name: string) {
  return helpers.findSecret(c1, ns, name);
}

/** A Secret's data decoded to text, key by key. */
async function decoded(name: string): Promise<Record<string, string>> {
  const data = (await readSecret(name))?.data ?? {};
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
}

/** The body of the API server's answer when the admin identity makes the same request: what we must not copy. */
async function serverAnswer(name: string, type: string, data: Record<string, string>): Promise<string> {
  const { core } = helpers.adminApis(c1);
  const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  try {
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, type, data: encoded } });
  } catch (error) {
    return String((error as { body?: unknown }).body);
  }
  await core.deleteNamespacedSecret({ namespace: ns, name });
  throw new Error(`the API server accepted Secret ${name}`);
}

beforeAll(async () => {
  c1 = helpers.stack().clusters[0] as string;
  ns = (await helpers.freshNamespace([c1], { prefix: 'rel-fid' })).name;
});

describe('values as stored', () => {
  it('syncs keys: all byte-exact: a big integer, 0.10, exponents and a nested object keep their JSON text', async () => {
    // Prepare: JSON.parse would give 12345678901234567000, 0.1, 100 and re-spaced objects.
    const password = `fid-pw-${run}-Rr4`;
    const text = `{ "big": 12345678901234567890, "ratio": 0.10, "exp": 1E+2, "nested": { "a" : [1.50, 2] }, "password": "${password}" }`;
    guard.seed('fidelity password', password);
    const secret = await helpers.createSecret(`${prefix}/numbers`, text);
    const handler = await helpers.loadFunction('on-rotation', configFor(secret, 'secret: numbers, keys: all'));

    // Act
    const first = await rotate(handler, secret, secret.versionId);
    const again = await rotate(handler, secret, secret.versionId);

    // Assess
    expect(first.error).toBeUndefined();
    expect(first.report?.results.map((r) => r.action)).toEqual(['created']);
    expect(await decoded('numbers')).toEqual({
      big: '12345678901234567890',
      ratio: '0.10',
      exp: '1E+2',
      nested: '{ "a" : [1.50, 2] }',
      password,
    });
    // The exact text is stable: the same version is unchanged, not rewritten.
    expect(again.report?.results.map((r) => r.action)).toEqual(['unchanged']);
  });

  it('syncs mapped keys and nested paths byte-exact', async () => {
    // Prepare
    const text = '{"db": {"port": 5432.0, "ids": [9007199254740993, {"x": 0.10}]}}';
    const secret = await helpers.createSecret(`${prefix}/paths`, text);
    const handler = await helpers.loadFunction(
      'on-rotation',
      configFor(
        secret,
        'secret: paths, keys: { PORT: { path: db.port }, ID: { path: db.ids.0 }, X: { path: db.ids.1 } }',
      ),
    );

    // Act
    const { error } = await rotate(handler, secret, secret.versionId);

    // Assess
    expect(error).toBeUndefined();
    expect(await decoded('paths')).toEqual({ PORT: '5432.0', ID: '9007199254740993', X: '{"x": 0.10}' });
  });
});

describe('a version that would render a bad Secret changes nothing in the cluster', () => {
  let secret: helpers.SeededSecret;
  let handler: helpers.Handler;
  let before: { resourceVersion?: string; data: Record<string, string>; replicaSets: number; generation?: number };

  beforeAll(async () => {
    const { apps } = helpers.adminApis(c1);
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment('web', 'steady', 'envFrom') });
    const value = { password: `steady-pw-${run}-Ss1` };
    guard.seed('steady v1', value);
    secret = await helpers.createSecret(`${prefix}/steady`, value);
    handler = await helpers.loadFunction('on-rotation', configFor(secret, 'secret: steady, keys: all'));
    const { error } = await rotate(handler, secret, secret.versionId);
    expect(error).toBeUndefined();
    // Created and its consumer restarted once: two ReplicaSets.
    await helpers.waitFor(async () => (await helpers.replicaSetsOf(c1, ns, 'web')).length === 2, 30_000, 200);
    before = {
      resourceVersion: (await readSecret('steady'))?.metadata?.resourceVersion,
      data: await decoded('steady'),
      replicaSets: (await helpers.replicaSetsOf(c1, ns, 'web')).length,
      generation: (await apps.readNamespacedDeployment({ namespace: ns, name: 'web' })).metadata?.generation,
    };
  });

  it.each([
    [
      'a __proto__ key',
      `{"password": "proto-pw-${run}-Pp2", "__proto__": "proto-hidden-${run}-Hh3"}`,
      '"__proto__" (must not be "__proto__" (JavaScript objects drop it))',
    ],
    ['an empty object', '{}', 'has no keys to sync (an empty JSON object); an empty Secret is not written'],
    [
      'only null values',
      '{"password": null, "username": null}',
      'has no keys to sync (every value is null); an empty Secret is not written',
    ],
    [
      'key names Kubernetes refuses',
      `{"password": "dots-pw-${run}-Dd4", "..data": "x", ".": "y"}`,
      '"..data" (must not start with ".."), "." (must not be ".")',
    ],
  ])(
    'refuses %s, naming the secret, and leaves the Secret and its consumer as they were',
    async (_label, text, why) => {
      // Prepare
      guard.seed(`steady ${_label}`, text);
      for (const leaf of Object.values(JSON.parse(text) as Record<string, unknown>))
        guard.seed(`steady ${_label}`, leaf);
      const versionId = await helpers.putSecret(secret.name, text);

      // Act
      const { error, report } = await rotate(handler, secret, versionId);

      // Assess
      expect(report).toBeUndefined();
      const result = error?.report?.results[0];
      expect(result?.action).toBe('failed');
      expect(result?.error?.code).toBe('KeyNotFound');
      expect(result?.error?.message).toMatch(new RegExp(`^secret "(${secret.name}|${secret.arn})" `));
      expect(result?.error?.message).toContain(why);
      expect((await readSecret('steady'))?.metadata?.resourceVersion).toBe(before.resourceVersion);
      expect(await decoded('steady')).toEqual(before.data);
      const { apps } = helpers.adminApis(c1);
      expect((await apps.readNamespacedDeployment({ namespace: ns, name: 'web' })).metadata?.generation).toBe(
        before.generation,
      );
      expect((await helpers.replicaSetsOf(c1, ns, 'web')).length).toBe(before.replicaSets);
    },
  );
});

describe('what the API server says stays out of reports', () => {
  it('reports a .dockerconfigjson the real API server refuses by field path, without its message', async () => {
    // Prepare: not JSON, so the server's validation answers with the JSON error, which quotes the value.
    const registry = `Zq-fid-dockercfg-${run}-Vv5`;
    guard.seed('dockerconfigjson value', registry);
    const answer = await serverAnswer('regcred-probe', 'kubernetes.io/dockerconfigjson', {
      '.dockerconfigjson': registry,
    });
    expect(answer).toContain("invalid character 'Z' looking for beginning of value");
    const secret = await helpers.createSecret(`${prefix}/dockercfg`, { registry });
    const handler = await helpers.loadFunction(
      'on-rotation',
      configFor(secret, 'secret: regcred, type: kubernetes.io/dockerconfigjson, keys: { .dockerconfigjson: registry }'),
    );

    // Act
    const { error } = await rotate(handler, secret, secret.versionId);

    // Assess
    const result = error?.report?.results[0];
    expect(result?.error).toEqual({
      code: 'KubernetesError',
      message: `cannot create secret "${ns}/regcred" in cluster "${c1}" (HTTP 422 Invalid: data[.dockerconfigjson] FieldValueInvalid)`,
    });
    const everything = [JSON.stringify(error?.report), error?.message, output.text()].join('\n');
    expect(everything).not.toContain('invalid character');
    expect(everything).not.toContain('secret contents redacted');
    expect(await readSecret('regcred')).toBeUndefined();
  });

  describe('a ValidatingAdmissionPolicy whose message templates the Secret data', () => {
    const policy = `fid-${run}`;
    const admission = () => helpers.adminKubeConfig(c1).makeApiClient(AdmissionregistrationV1Api);

    beforeAll(async () => {
      // Matches only the Secret "vap-target" in this file's namespace, so no other test meets it.
      await admission().createValidatingAdmissionPolicy({
        body: {
          metadata: { name: policy },
          spec: {
            failurePolicy: 'Fail',
            matchConstraints: {
              resourceRules: [
                { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['secrets'] },
              ],
            },
            matchConditions: [{ name: 'target', expression: "object.metadata.name == 'vap-target'" }],
            validations: [
              {
                expression: "!has(object.data) || !('password' in object.data) || size(object.data['password']) > 200",
                messageExpression: "'password ' + string(object.data['password']) + ' is too short'",
              },
            ],
          },
        },
      });
      await admission().createValidatingAdmissionPolicyBinding({
        body: {
          metadata: { name: policy },
          spec: {
            policyName: policy,
            validationActions: ['Deny'],
            matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } },
          },
        },
      });
    });

    afterAll(async () => {
      await admission().deleteValidatingAdmissionPolicyBinding({ name: policy });
      await admission().deleteValidatingAdmissionPolicy({ name: policy });
    });

    it('names the policy and binding, never the message carrying the value', async () => {
      // Prepare: wait until the API server enforces the policy (it loads policies asynchronously).
      const password = `vap-pw-${run}-Ww6`;
      guard.seed('policy-quoted password', password);
      const answer = await helpers.waitFor(
        () => serverAnswer('vap-target', 'Opaque', { password }).catch(() => ''),
        30_000,
        250,
      );
      expect(answer).toContain(Buffer.from(password).toString('base64'));
      const secret = await helpers.createSecret(`${prefix}/vap`, { password });
      const handler = await helpers.loadFunction('on-rotation', configFor(secret, 'secret: vap-target, keys: all'));

      // Act
      const { error } = await rotate(handler, secret, secret.versionId);

      // Assess
      expect(error?.report?.results[0]?.error).toEqual({
        code: 'KubernetesError',
        message: `cannot create secret "${ns}/vap-target" in cluster "${c1}" (HTTP 422 Invalid; denied by ValidatingAdmissionPolicy "${policy}" (binding "${policy}"))`,
      });
      expect(error?.message).not.toContain('is too short');
      expect(await readSecret('vap-target')).toBeUndefined();
    });
  });
});

describe('leakage', () => {
  it('no seeded value appears in any log line, report or error of this file', () => {
    expect(guard.seedCount).toBeGreaterThan(8);
    expect(guard.hits(output.text())).toEqual([]);
  });
});
