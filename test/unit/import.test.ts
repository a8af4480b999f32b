import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../lib/cli/args.js';
import { runCli } from '../../lib/cli/run.js';
import { checkConfig, loadConfigFile } from '../../lib/config/index.js';
import { regexpPrefix } from '../../lib/import/external-secret.js';
import { importManifests, type Manifest, parseManifests, renderConfig } from '../../lib/import/index.js';
import { propertyKeyRef, propertyVariable } from '../../lib/import/property.js';
import { rewriteTemplate } from '../../lib/import/template.js';
import { capturedIO } from '../support/cli.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = 'test/fixtures/eso';

function harness(stdin?: string) {
  return capturedIO(ROOT, stdin === undefined ? {} : { stdin: async () => stdin });
}

async function fixture(dir: string): Promise<Manifest[]> {
  const files = (await readdir(join(ROOT, FIXTURES, dir))).sort();
  const all: Manifest[] = [];
  for (const file of files) {
    all.push(...parseManifests(await readFile(join(ROOT, FIXTURES, dir, file), 'utf8'), `${dir}/${file}`));
  }
  return all;
}

type Target = Record<string, unknown>;
function targetOf(result: ReturnType<typeof importManifests>, from: string): Target {
  const sync = result.syncs.find((s) => s.from.includes(from));
  if (sync === undefined) throw new Error(`no sync from ${from}`);
  return (sync.sync.targets as Target[])[0] as Target;
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'import-test-'));
});

describe('ESO property -> key mapping', () => {
  it('maps a plain property to a top-level key, a dotted one to a path, one with an escaped dot to JMESPath', () => {
    expect(propertyKeyRef('username')).toEqual({ ref: 'username' });
    expect(propertyKeyRef('tls\\.crt')).toEqual({ ref: 'tls.crt' });
    expect(propertyKeyRef('db.connection.host')).toEqual({ ref: { path: 'db.connection.host' } });
    expect(propertyKeyRef('a.my-key')).toEqual({ ref: { path: 'a.my-key' } });
    // The dotted path decides a number from the value (index of an array, key of an object), as gjson does.
    expect(propertyKeyRef('hosts.0')).toEqual({ ref: { path: 'hosts.0' } });
    expect(propertyKeyRef('certs.tls\\.key')).toEqual({ ref: { jmespath: 'certs."tls.key"' } });
    expect(propertyKeyRef('my-certs.tls\\.key')).toEqual({ ref: { jmespath: '"my-certs"."tls.key"' } });
  });

  it("refuses gjson's wildcards, queries, modifiers, and numbers JMESPath would have to decide, saying why", () => {
    for (const property of ['friends.#.first', 'a.*', 'name|@reverse', 'a..b', 'x\\', 'certs.0.tls\\.crt']) {
      expect(propertyKeyRef(property)).toHaveProperty('problem');
    }
  });

  it("names properties as template variables (JMESPath with ESO's leading dot)", () => {
    expect(propertyVariable('db.user')).toEqual({ variable: '.db.user' });
    expect(propertyVariable('tls\\.crt')).toEqual({ variable: '."tls.crt"' });
    expect(propertyVariable('hosts.0')).toHaveProperty('problem');
  });

  it('reads a find regexp as a name prefix only when it is one', () => {
    expect(regexpPrefix('^prod/payments/')).toBe('prod/payments/');
    expect(regexpPrefix('^prod/db\\.main.*')).toBe('prod/db.main');
    expect(regexpPrefix('(db|cache)-password$')).toBeUndefined();
    expect(regexpPrefix('^prod/.*/db')).toBeUndefined();
    expect(regexpPrefix('prod/')).toBeUndefined();
  });
});

describe('ESO template -> our template', () => {
  const vars = (name: string) =>
    name === 'user'
      ? { variable: '.username' }
      : name === 'host'
        ? { variable: '.db.host' }
        : { problem: 'is unknown' };

  it('rewrites plain {{ .key }} actions to the JSON keys they come from', () => {
    expect(rewriteTemplate('postgres://{{ .user }}@{{.host}}:5432/app', vars)).toEqual({
      template: 'postgres://{{ .username }}@{{ .db.host }}:5432/app',
    });
  });

  it('leaves out functions, trimming, comments, unknown variables and literals, never quoting the text', () => {
    const literal = 'hunter2-literal-value';
    for (const text of ['{{ .user | b64enc }}', '{{- .user }}', '{{/* c */}}', '{{ .nope }}', literal]) {
      const result = rewriteTemplate(text, vars);
      expect(result).toHaveProperty('problem');
      expect(JSON.stringify(result)).not.toContain('hunter2');
      expect(JSON.stringify(result)).not.toContain('b64enc');
    }
  });
});

describe('importManifests over the complete corpus', () => {
  let result: ReturnType<typeof importManifests>;
  beforeAll(async () => {
    result = importManifests(await fixture('complete'), { clusters: [{ name: 'prod-eu' }], namespace: 'web' });
  });

  it('leaves nothing out, and notes the polling settings a push does not need', () => {
    expect(result.leftOut).toEqual([]);
    expect(result.notes.map((n) => n.place)).toEqual([
      'complete/payments.yaml:0.spec.refreshInterval',
      'complete/payments.yaml:0.spec.refreshPolicy',
      'complete/web.yaml:0.spec.refreshInterval',
    ]);
    expect(result.otherDocuments).toBe(1);
    expect(result.region).toBe('eu-west-1');
  });

  it('maps data[].remoteRef properties, target.name, labels and annotations (the template over the object)', () => {
    expect(targetOf(result, 'payments/payments-db')).toEqual({
      clusters: ['prod-eu'],
      namespaces: ['payments'],
      secret: 'payments-db-credentials',
      keys: { DB_USER: 'username', DB_HOST: { path: 'connection.host' }, 'ca.crt': 'tls.ca' },
      labels: { 'app.kubernetes.io/part-of': 'payments', tier: 'backend' },
      annotations: { 'acme.org/owner': 'team-payments', 'acme.org/sha': '1234' },
    });
    const sync = result.syncs.find((s) => s.from.includes('payments-db'))?.sync;
    expect(sync?.source).toEqual({ secret: 'prod/payments/db' });
    expect(sync?.deletionPolicy).toBe('retain');
  });

  it('maps template.type and keys with dots, nested under an object', () => {
    expect(targetOf(result, 'payments/payments-tls')).toMatchObject({
      secret: 'payments-tls',
      type: 'kubernetes.io/tls',
      keys: { 'tls.crt': { jmespath: 'certs."tls.crt"' }, 'tls.key': { jmespath: 'certs."tls.key"' } },
    });
  });

  it('maps dataFrom.extract to every key, Delete to delete, and a whole-string data entry to asKey', () => {
    const config = targetOf(result, 'web/web-config');
    expect(config).not.toHaveProperty('keys');
    expect(result.syncs.find((s) => s.from.includes('web-config'))?.sync.deletionPolicy).toBe('delete');
    // No namespace in the manifest: --namespace gives it.
    expect(targetOf(result, 'web/web-token')).toMatchObject({ namespaces: ['web'], asKey: 'token' });
  });
});

describe('importManifests over what must be left out', () => {
  let result: ReturnType<typeof importManifests>;
  beforeAll(async () => {
    result = importManifests(await fixture('partial'), { clusters: [{ name: 'prod-eu' }], region: 'eu-west-1' });
  });

  it('lists each thing without an equivalent at its place', () => {
    const at = (place: string) => result.leftOut.find((f) => f.place === `partial/${place}`)?.reason;
    expect(at('stores.yaml:0.spec.provider.aws.role')).toMatch(/own role/);
    expect(at('external-secrets.yaml:0.spec.refreshInterval')).toMatch(/fetches once/);
    expect(at('external-secrets.yaml:0.spec.data[1].remoteRef.version')).toMatch(/AWSCURRENT/);
    expect(at('external-secrets.yaml:0.spec.data[2].remoteRef.version')).toMatch(/AWSCURRENT/);
    expect(at('external-secrets.yaml:0.spec.data[3].remoteRef.decodingStrategy')).toMatch(/Base64/);
    expect(at('external-secrets.yaml:0.spec.data[4].remoteRef.property')).toMatch(/"#"/);
    expect(at('external-secrets.yaml:0.spec.data[5].remoteRef.metadataPolicy')).toMatch(/Fetch/);
    expect(at('external-secrets.yaml:0.spec.data[6]')).toMatch(/prod\/other/);
    expect(at('external-secrets.yaml:0.spec.data[7]')).toMatch(/ParameterStore/);
    expect(at('external-secrets.yaml:0.spec.data[8].sourceRef.generatorRef')).toMatch(/generators/);
    expect(at('external-secrets.yaml:0.spec.dataFrom[0].rewrite')).toMatch(/rewrite/);
    expect(at('external-secrets.yaml:0.spec.target.creationPolicy')).toMatch(/Merge/);
    expect(at('external-secrets.yaml:0.spec.target.deletionPolicy')).toMatch(/Merge/);
    expect(at('external-secrets.yaml:0.spec.target.immutable')).toMatch(/immutable/);
    for (const key of ['ENCODED', 'LITERAL', 'TRIMMED', 'UNKNOWN']) {
      expect(at(`external-secrets.yaml:1.spec.target.template.data.${key}`)).toMatch(/^template /);
    }
    expect(at('external-secrets.yaml:1.spec.target.template.templateFrom')).toMatch(/ConfigMaps/);
    expect(at('external-secrets.yaml:2.spec.dataFrom[0].find')).toMatch(/one Secret per matched secret/);
    expect(at('external-secrets.yaml:3.spec.dataFrom[0].find.name.regexp')).toMatch(/not a name prefix/);
    expect(at('external-secrets.yaml:4.spec.data[0]')).toMatch(/vault provider/);
    expect(at('external-secrets.yaml:5.spec.data[0]')).toMatch(/us-east-1/);
    expect(at('external-secrets.yaml:6.spec.target.name')).toMatch(/also written by/);
    expect(at('external-secrets.yaml:7.apiVersion')).toMatch(/v1alpha1/);
    expect(at('external-secrets.yaml:8')).toMatch(/PushSecret/);
    expect(at('external-secrets.yaml:9')).toMatch(/ClusterExternalSecret/);
    expect(at('external-secrets.yaml:10')).toMatch(/Password/);
    expect(at('external-secrets.yaml:11.spec.someFutureField')).toMatch(/not known/);
  });

  it('keeps what does map: the rest of a partly imported ExternalSecret, a find as a selector', () => {
    expect(targetOf(result, 'payments/legacy ')).toMatchObject({ secret: 'legacy', keys: { user: 'username' } });
    const found = result.syncs.find((s) => s.from.includes('payments/found '));
    expect(found?.sync.source).toEqual({ namePrefix: 'prod/payments/', tags: { team: 'payments' } });
    expect(targetOf(result, 'payments/found ')).not.toHaveProperty('secret');
  });

  it('gives a configuration the real loader accepts, never quoting a literal value', () => {
    const yaml = renderConfig(result);
    expect(checkConfig(yaml).issues).toEqual([]);
    expect(yaml).not.toContain('do-not-print-this-literal');
    expect(JSON.stringify(result)).not.toContain('do-not-print-this-literal');
    expect(yaml).toContain('# left out: partial/external-secrets.yaml:0.spec.target.immutable:');
  });
});

describe('importManifests templates', () => {
  it('maps target.template.data onto { template } keys over the JSON keys data[] reads', async () => {
    const result = importManifests(await fixture('templates'), {
      clusters: [{ name: 'prod-eu' }],
      region: 'eu-west-1',
    });
    expect(result.leftOut).toEqual([]);
    expect(targetOf(result, 'orders/orders-db').keys).toEqual({
      DATABASE_URL: { template: 'postgres://{{ .username }}:{{ .password }}@{{ .endpoint.host }}:5432/orders' },
      DB_PASSWORD: { template: '{{ .password }}' },
    });
    // The real loader takes the templates as they are written.
    expect(checkConfig(renderConfig(result)).issues).toEqual([]);
    // mergePolicy Merge: the data keys stay next to the templated one.
    expect(targetOf(result, 'orders/orders-api').keys).toEqual({
      API_KEY: 'key',
      apiUser: 'user',
      API_URL: { template: 'https://{{ .user }}@api.internal/' },
    });
  });
});

describe('eks-secret-sync import', () => {
  it('writes a complete configuration that validate loads, and exits 0', async () => {
    const { io, out } = harness();
    const output = join(tmp, 'complete.yaml');
    const code = await runCli(
      [
        'import',
        `${FIXTURES}/complete`,
        '--cluster',
        'prod-eu',
        '--cluster',
        'prod-us@us-east-1',
        '--namespace',
        'web',
        '-o',
        output,
      ],
      io,
    );
    expect(code).toBe(0);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain('imported 4 sync(s) for Secrets Manager in eu-west-1');
    const config = await loadConfigFile(output);
    expect(config.clusters).toEqual({
      'prod-eu': { eks: { name: 'prod-eu', region: 'eu-west-1' } },
      'prod-us': { eks: { name: 'prod-us', region: 'us-east-1' } },
    });
    expect(config.syncs).toHaveLength(4);
    const text = await readFile(output, 'utf8');
    expect(text).toContain(`# from ExternalSecret payments/payments-db (${FIXTURES}/complete/payments.yaml:0)`);
    expect(await runCli(['validate', '--config', output], harness().io)).toBe(0);
  });

  it('writes templated keys the loader accepts, and exits 0', async () => {
    const { io, out } = harness();
    const output = join(tmp, 'templates.yaml');
    const code = await runCli(
      ['import', `${FIXTURES}/templates`, '--cluster', 'prod-eu', '--region', 'eu-west-1', '-o', output],
      io,
    );
    expect(code).toBe(0);
    const config = await loadConfigFile(output);
    expect(config.syncs[0]?.targets[0]?.keys).toMatchObject({ DB_PASSWORD: { template: '{{ .password }}' } });
    expect(out.stderr).toContain('complete');
  });

  it('gives the same bytes for the same input', async () => {
    const runs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { io, out } = harness();
      await runCli(['import', `${FIXTURES}/partial`, '--cluster', 'prod-eu', '--region', 'eu-west-1'], io);
      runs.push(out.stdout + out.stderr);
    }
    expect(runs[1]).toBe(runs[0]);
  });

  it('exits 1 and lists what was left out on stderr, the configuration on stdout', async () => {
    const { io, out } = harness();
    const code = await runCli(['import', `${FIXTURES}/partial`, '--cluster', 'prod-eu', '--region', 'eu-west-1'], io);
    expect(code).toBe(1);
    expect(out.stderr).toMatch(/^left out \(\d+\):\n/);
    expect(out.stderr).toContain(`  ${FIXTURES}/partial/external-secrets.yaml:7.apiVersion: `);
    expect(checkConfig(out.stdout).issues).toEqual([]);
    expect(out.stdout + out.stderr).not.toContain('do-not-print-this-literal');
  });

  it('reads stdin for "-", with places named stdin', async () => {
    const text = await readFile(join(ROOT, FIXTURES, 'complete/web.yaml'), 'utf8');
    const { io, out } = harness(text);
    const code = await runCli(
      ['import', '-', '--cluster', 'prod-eu', '--region', 'eu-west-1', '--namespace', 'web', '--json'],
      io,
    );
    expect(code).toBe(0);
    const report = JSON.parse(out.stdout);
    expect(report).toMatchObject({
      complete: true,
      syncs: ['ExternalSecret web/web-config (stdin:0)', 'ExternalSecret web/web-token (stdin:1)'],
    });
    expect(checkConfig(report.config).issues).toEqual([]);
    expect(out.stderr).toBe('');
  });

  it('sets adopt: true on every target with --adopt', async () => {
    const { io, out } = harness();
    await runCli(
      [
        'import',
        `${FIXTURES}/complete/web.yaml`,
        '--cluster',
        'prod-eu',
        '--region',
        'eu-west-1',
        '--namespace',
        'web',
        '--adopt',
      ],
      io,
    );
    const config = checkConfig(out.stdout).config;
    expect(config?.syncs.map((s) => s.targets[0]?.adopt)).toEqual([true, true]);
  });

  it('takes --context instead of paths, and both together', () => {
    expect(parseCliArgs(['import', '--context', 'prod', '--cluster', 'prod-eu'])).toMatchObject({
      command: 'import',
      inputs: [],
      context: 'prod',
    });
    expect(
      parseCliArgs(['import', 'a.yaml', '--context', 'prod', '--kubeconfig', 'k', '--cluster', 'c']),
    ).toMatchObject({
      inputs: ['a.yaml'],
      kubeconfig: 'k',
    });
  });

  it.each([
    [['import', `${FIXTURES}/complete`], '"import" needs --cluster'],
    [['import', '--cluster', 'prod-eu'], '"import" needs PATH... or --context'],
    [['import', 'missing.yaml', '--cluster', 'prod-eu'], 'cannot read "missing.yaml" (ENOENT)'],
    [['import', `${FIXTURES}/complete`, '--cluster', 'prod eu'], '--cluster "prod eu" is not NAME or NAME@REGION'],
    [
      ['import', `${FIXTURES}/partial`, '--cluster', 'prod-eu'],
      'the stores read several regions (eu-west-1, us-east-1)',
    ],
    [['import', '-', '--cluster', 'prod-eu'], 'no standard input'],
  ])('exits 2 on bad input: %j', async (argv, message) => {
    const { io, out } = harness();
    expect(await runCli(argv, io)).toBe(2);
    expect(out.stderr).toContain(message);
    expect(out.stdout).toBe('');
  });

  it('exits 2 on a YAML syntax error, naming the file and document, and on input without ExternalSecrets', async () => {
    const bad = join(tmp, 'bad.yaml');
    await writeFile(bad, 'kind: ExternalSecret\n---\nmetadata: [unclosed\n');
    const { io, out } = harness();
    expect(await runCli(['import', bad, '--cluster', 'prod-eu', '--region', 'eu-west-1'], io)).toBe(2);
    expect(out.stderr).toContain(`${bad}:1: not valid YAML`);
    const none = harness('apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n');
    expect(await runCli(['import', '-', '--cluster', 'prod-eu', '--region', 'eu-west-1'], none.io)).toBe(2);
    expect(none.out.stderr).toContain('holds no ExternalSecret');
  });
});
