import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../../lib/config/index.js';
import { ConfigError } from '../../lib/errors.js';
import { targetConfig } from '../support/fakes.js';

const SAMPLE = `
clusters:
  prod-eu: { eks: { name: prod-eu, region: eu-west-1 } }
  prod-us: { eks: { name: prod-us, region: us-east-1, roleArn: "arn:aws:iam::123456789012:role/secret-sync" } }
  local:   { kubeconfig: { context: kind-dev } }
syncs:
  - source: { secret: prod/payments/db }
    targets:
      - clusters: [prod-eu, prod-us]
        namespaces: [payments, payments-canary]
        secret: payments-db
        keys: { DB_USER: username, DB_PASSWORD: password, DB_HOST: { path: endpoint.host } }
  - source: { secret: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/api-key-AbCdEf" }
    deletionPolicy: delete
    targets:
      - clusters: [local]
        namespaces: [dev]
        secret: api-key
        asKey: token
        restart: none
  - source: { namePrefix: shared/, tags: { team: platform } }
    targets:
      - clusters: [local]
        namespaces: [dev]
        keys: all
        restart: { workloads: [{ kind: Deployment, name: web }] }
  - source: { tags: { sync: "true" } }
    targets:
      - clusters: [prod-eu]
        namespaces: [tools]
`;

/** A minimal valid file with one target whose fields are given as YAML flow mapping entries. */
function withTarget(fields: string, source = '{ secret: app/db }'): string {
  return `clusters: { a: { eks: { name: a, region: eu-west-1 } } }
syncs:
  - source: ${source}
    targets:
      - { clusters: [a], namespaces: [app], ${fields} }
`;
}

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('parses a sample with EKS and kubeconfig clusters, every source, key and restart form, and fills defaults', () => {
    // Act
    const config = parseConfig(SAMPLE);

    // Assess
    expect(config.clusters.local).toEqual({ kubeconfig: { path: '~/.kube/config', context: 'kind-dev' } });
    expect(config.clusters['prod-us']).toMatchObject({
      eks: { roleArn: 'arn:aws:iam::123456789012:role/secret-sync' },
    });
    expect(config.defaults).toEqual({
      deletionPolicy: 'retain',
      clusterConcurrency: 8,
      bindingConcurrency: 4,
      rollout: { waitMs: 60_000, readyTimeoutMs: 30_000 },
      fanout: { mode: 'auto', threshold: 200, clustersPerItem: 10 },
      timeouts: {
        kubernetes: { connectMs: 5_000, headersMs: 15_000, bodyMs: 15_000 },
        aws: { connectMs: 5_000, requestMs: 15_000 },
      },
    });
    const [named, arn, prefix, tags] = config.syncs;
    // targetConfig states the schema's target defaults (the unit tests' targets build on it): checked here.
    expect(named?.targets[0]).toEqual(
      targetConfig({
        clusters: ['prod-eu', 'prod-us'],
        namespaces: ['payments', 'payments-canary'],
        secret: 'payments-db',
        keys: { DB_USER: 'username', DB_PASSWORD: 'password', DB_HOST: { path: 'endpoint.host' } },
      }),
    );
    expect(named?.deletionPolicy).toBeUndefined();
    expect(arn?.deletionPolicy).toBe('delete');
    expect(arn?.targets[0]).toMatchObject({ asKey: 'token', restart: 'none' });
    expect(prefix?.source).toEqual({ namePrefix: 'shared/', tags: { team: 'platform' } });
    expect(prefix?.targets[0]).toMatchObject({
      keys: 'all',
      restart: { auto: false, workloads: [{ kind: 'Deployment', name: 'web' }] },
    });
    expect(tags?.source).toEqual({ tags: { sync: 'true' } });
    expect(tags?.targets[0]?.keys).toBeUndefined();
  });

  it('accepts JSON as well as YAML', () => {
    // Prepare
    const json = JSON.stringify({
      clusters: { a: { eks: { name: 'a', region: 'eu-west-1' } } },
      syncs: [{ source: { secret: 'x' }, targets: [{ clusters: ['a'], namespaces: ['n'] }] }],
    });

    // Act
    const config = parseConfig(json);

    // Assess
    expect(config.syncs[0]?.targets[0]?.restart).toBe('auto');
  });

  it('names the target and the cluster for an unknown cluster reference', () => {
    // Act
    const issues = issuesOf(() =>
      parseConfig(withTarget('secret: db').replace('clusters: [a]', 'clusters: [x]'), 'f.yaml'),
    );

    // Assess
    expect(issues).toEqual(['f.yaml: syncs[0].targets[0].clusters[0]: unknown cluster "x" (defined: a)']);
  });

  it('names the namespace entry that is not a valid namespace name', () => {
    // Act
    const issues = issuesOf(() => parseConfig(withTarget('secret: db').replace('[app]', '[app, Payments_EU]')));

    // Assess
    expect(issues).toEqual([
      expect.stringMatching(
        /^configuration: syncs\[0\]\.targets\[0\]\.namespaces\[1\]: must be a lowercase RFC 1123 label/,
      ),
    ]);
  });

  it('rejects "keys" and "asKey" together', () => {
    // Act
    const issues = issuesOf(() => parseConfig(withTarget('keys: all, asKey: value')));

    // Assess
    expect(issues).toEqual(['configuration: syncs[0].targets[0].asKey: "keys" and "asKey" exclude each other']);
  });

  it('rejects a Kubernetes Secret written by two syncs', () => {
    // Prepare
    const text = `clusters: { a: { eks: { name: a, region: eu-west-1 } } }
syncs:
  - source: { secret: app/db }
    targets: [{ clusters: [a], namespaces: [app, web], secret: db }]
  - source: { secret: app/db-v2 }
    targets: [{ clusters: [a], namespaces: [web], secret: db }]
`;

    // Act
    const issues = issuesOf(() => parseConfig(text));

    // Assess
    expect(issues).toEqual([
      'configuration: syncs[1].targets[0]: Secret web/db in cluster "a" is also written by syncs[0].targets[0]',
    ]);
  });

  it('rejects two syncs whose derived Secret names collide', () => {
    // Prepare: no explicit "secret", so both become Kubernetes Secret "app-db".
    const text = `clusters: { a: { eks: { name: a, region: eu-west-1 } } }
syncs:
  - source: { secret: app/db }
    targets: [{ clusters: [a], namespaces: [app] }]
  - source: { secret: app_db }
    targets: [{ clusters: [a], namespaces: [app] }]
`;

    // Act
    const issues = issuesOf(() => parseConfig(text));

    // Assess
    expect(issues).toEqual([
      'configuration: syncs[1].targets[0]: Secret app/app-db in cluster "a" is also written by syncs[0].targets[0]',
    ]);
  });

  it('names a cluster or namespace listed twice in one target', () => {
    // Act
    const issues = issuesOf(() =>
      parseConfig(
        withTarget('secret: db').replace('clusters: [a]', 'clusters: [a, a]').replace('[app]', '[app, web, app]'),
      ),
    );

    // Assess
    expect(issues).toEqual([
      'configuration: syncs[0].targets[0].clusters[1]: "a" is listed twice',
      'configuration: syncs[0].targets[0].namespaces[2]: "app" is listed twice',
    ]);
  });

  it('rejects an empty key map', () => {
    // Act
    const issues = issuesOf(() => parseConfig(withTarget('keys: {}')));

    // Assess
    expect(issues).toEqual([expect.stringMatching(/^configuration: syncs\[0\]\.targets\[0\]\.keys: /)]);
  });

  it('rejects an explicit Secret name on a selector source', () => {
    // Act
    const issues = issuesOf(() => parseConfig(withTarget('secret: db', '{ namePrefix: app/ }')));

    // Assess
    expect(issues).toEqual([expect.stringContaining('syncs[0].targets[0].secret: a selector source matches many')]);
  });

  it('says what a source may look like when it matches no form', () => {
    // Act
    const issues = issuesOf(() => parseConfig(withTarget('secret: db', '{ secrett: app/db }')));

    // Assess
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^configuration: syncs\[0\]\.source: .*namePrefix/);
  });

  it('says what a restart policy may look like when it matches no form', () => {
    // Act
    const issues = issuesOf(() => parseConfig(withTarget('restart: autoo')));

    // Assess
    expect(issues).toEqual([expect.stringMatching(/^configuration: syncs\[0\]\.targets\[0\]\.restart: .*"auto"/)]);
  });

  it("accepts Reloader's opt-in model (restart: annotated) and Rollouts and CronJobs as named workloads", () => {
    // Act
    const annotated = parseConfig(withTarget('restart: annotated')).syncs[0]?.targets[0]?.restart;
    const listed = parseConfig(
      withTarget(
        'restart: { auto: annotated, workloads: [{ kind: Rollout, name: web }, { kind: CronJob, name: nightly }] }',
      ),
    ).syncs[0]?.targets[0]?.restart;

    // Assess
    expect(annotated).toBe('annotated');
    expect(listed).toEqual({
      auto: 'annotated',
      workloads: [
        { kind: 'Rollout', name: 'web' },
        { kind: 'CronJob', name: 'nightly' },
      ],
    });
    expect(issuesOf(() => parseConfig(withTarget('restart: { workloads: [{ kind: Job, name: x }] }')))).toEqual([
      expect.stringMatching(/restart/),
    ]);
  });

  it('names the place of an invalid Secret key in "keys"', () => {
    // Act
    const issues = issuesOf(() => parseConfig(withTarget('keys: { "DB PASSWORD": password }')));

    // Assess
    expect(issues).toEqual([expect.stringMatching(/^configuration: syncs\[0\]\.targets\[0\]\.keys/)]);
  });

  it.each([
    ['keys: { ".": password }', 'Secret key "." must not be "."'],
    ['keys: { "..": password }', 'Secret key ".." must not be ".."'],
    ['keys: { "..data": password }', 'Secret key "..data" must not start with ".."'],
    [`keys: { ${'k'.repeat(254)}: password }`, `Secret key "${'k'.repeat(254)}" must be at most 253 characters`],
    ['keys: { "DB PASSWORD": password }', 'Secret key "DB PASSWORD" must consist of alphanumerics, "-", "_" or "."'],
    ['keys: { __proto__: password }', 'Secret key "__proto__" must not be "__proto__" (JavaScript objects drop it)'],
    ['asKey: ".."', 'Secret key ".." must not be ".."'],
  ])('refuses Secret keys the API server refuses, at load time (case %#)', (fields, message) => {
    // Act
    const issues = issuesOf(() => parseConfig(withTarget(fields)));

    // Assess
    const field = fields.startsWith('asKey') ? 'asKey' : 'keys';
    expect(issues).toEqual([`configuration: syncs[0].targets[0].${field}: ${message}`]);
  });

  it('accepts the Secret keys the API server accepts: dot files, inner double dots, 253 characters', () => {
    // Act
    const config = parseConfig(withTarget(`keys: { .env: a, a..b: b, _-.: c, ${'k'.repeat(253)}: d }`));

    // Assess
    expect(Object.keys(config.syncs[0]?.targets[0]?.keys ?? {})).toEqual(['.env', 'a..b', '_-.', 'k'.repeat(253)]);
  });

  it('reads a __proto__ JSON key mapped under another Secret key', () => {
    // Act
    const config = parseConfig(withTarget('keys: { PROTO: __proto__ }'));

    // Assess
    expect(config.syncs[0]?.targets[0]?.keys).toEqual({ PROTO: '__proto__' });
  });

  it('names the field of an invalid EKS region', () => {
    // Act
    const issues = issuesOf(() => parseConfig(withTarget('secret: db').replace('eu-west-1', 'europe')));

    // Assess
    expect(issues).toEqual(['configuration: clusters.a.eks.region: must be an AWS region such as eu-west-1']);
  });

  it("takes Kubernetes and AWS timeouts from defaults, and a cluster's own Kubernetes timeouts", () => {
    // Prepare
    const text = `clusters:
  a: { eks: { name: a, region: eu-west-1 }, timeouts: { headersMs: 30000 } }
  b: { kubeconfig: { context: b }, timeouts: { connectMs: 1000, bodyMs: 2000 } }
defaults:
  timeouts:
    kubernetes: { connectMs: 2000 }
    aws: { requestMs: 8000 }
syncs:
  - source: { secret: app/db }
    targets: [{ clusters: [a, b], namespaces: [app] }]
`;

    // Act
    const config = parseConfig(text);

    // Assess
    expect(config.defaults.timeouts).toEqual({
      kubernetes: { connectMs: 2000, headersMs: 15_000, bodyMs: 15_000 },
      aws: { connectMs: 5_000, requestMs: 8000 },
    });
    expect(config.clusters.a?.timeouts).toEqual({ headersMs: 30000 });
    expect(config.clusters.b?.timeouts).toEqual({ connectMs: 1000, bodyMs: 2000 });
  });

  it('names a timeout out of range or unknown, in defaults and in a cluster', () => {
    // Prepare
    const text = withTarget('secret: db')
      .replace('region: eu-west-1 } }', 'region: eu-west-1 }, timeouts: { headersMs: 0, totalMs: 5 } }')
      .replace('syncs:', 'defaults: { timeouts: { kubernetes: { bodyMs: 600000 } } }\nsyncs:');

    // Act
    const issues = issuesOf(() => parseConfig(text));

    // Assess
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^configuration: clusters\.a\.timeouts\.headersMs: .*100/),
        expect.stringMatching(/^configuration: clusters\.a\.timeouts: .*"totalMs"/),
        expect.stringMatching(/^configuration: defaults\.timeouts\.kubernetes\.bodyMs: .*300000/),
      ]),
    );
  });

  it('rejects unknown fields', () => {
    // Act
    const issues = issuesOf(() => parseConfig(withTarget('namespace: app')));

    // Assess
    expect(issues).toEqual([expect.stringMatching(/^configuration: syncs\[0\]\.targets\[0\]: .*"namespace"/)]);
  });

  it('reports a YAML syntax error with its line, and no Zod noise', () => {
    // Act
    const issues = issuesOf(() => parseConfig('clusters: { a: [ }\n', 'sync.yaml'));

    // Assess
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]).toMatch(/^sync\.yaml: YAML .*line 1/);
  });

  it('rejects an empty file', () => {
    // Act
    const issues = issuesOf(() => parseConfig(''));

    // Assess
    expect(issues).toEqual([expect.stringMatching(/^configuration: \(root\): /)]);
  });
});

describe('parseConfig: templates and JMESPath keys', () => {
  it('reads a template, a JMESPath expression and a dotted path side by side', () => {
    // Act
    const config = parseConfig(
      withTarget(
        'keys: { URL: { template: "postgres://{{ .username }}:{{ password }}@{{{ host }}}:5432/app" }, CRT: { jmespath: \'tls."tls.crt"\' }, HOST: { path: db.host } }',
      ),
    );

    // Assess
    expect(config.syncs[0]?.targets[0]?.keys).toEqual({
      URL: { template: 'postgres://{{ .username }}:{{ password }}@{{{ host }}}:5432/app' },
      CRT: { jmespath: 'tls."tls.crt"' },
      HOST: { path: 'db.host' },
    });
  });

  it.each([
    [
      '{{#admin}}root{{/admin}}',
      'tag {{#admin}} is not supported: templates take variables only, not sections ({{#name}}...{{/name}})',
    ],
    [
      '{{^admin}}x{{/admin}}',
      'tag {{^admin}} is not supported: templates take variables only, not inverted sections ({{^name}}...{{/name}})',
    ],
    ['{{> header}}', 'tag {{>header}} is not supported: templates take variables only, not partials ({{> name}})'],
    [
      '{{=<% %>=}}<% a %>',
      'tag {{=<% %>}} is not supported: templates take variables only, not delimiter changes ({{=<% %>=}})',
    ],
    ['a {{ .user', 'is not a valid template: Unclosed tag at 10'],
    ['{{ . }}', 'tag {{ . }} names no key'],
    [
      '{{ .user[ }}',
      'tag {{ .user[ }}: "user[" is not a valid JMESPath expression: parse error at column 5, found unexpected end of expression (EOF)',
    ],
  ])('refuses the template %j at load, naming the key and the tag', (template, message) => {
    // Act
    const issues = issuesOf(() =>
      parseConfig(withTarget(`keys: { DATABASE_URL: { template: ${JSON.stringify(template)} } }`)),
    );

    // Assess
    expect(issues).toEqual([`configuration: syncs[0].targets[0].keys.DATABASE_URL.template: ${message}`]);
  });

  it('refuses an invalid JMESPath expression at load, naming the key and suggesting quotes', () => {
    // Act
    const issues = issuesOf(() =>
      parseConfig(withTarget('keys: { A: { jmespath: "tls.tls-crt" }, B: { jmespath: "nofn(a)" } }')),
    );

    // Assess
    expect(issues).toEqual([
      expect.stringMatching(
        /^configuration: syncs\[0\]\.targets\[0\]\.keys\.A\.jmespath: is not a valid JMESPath expression: .*quote a key that is not a plain identifier: "my-key"\)$/,
      ),
      'configuration: syncs[0].targets[0].keys.B.jmespath: is not a valid JMESPath expression: Unknown function: nofn()',
    ]);
  });

  it('says every form a key may take when one matches none', () => {
    // Act
    const issues = issuesOf(() => parseConfig(withTarget('keys: { A: { path: a, template: b } }')));

    // Assess
    expect(issues).toEqual([
      'configuration: syncs[0].targets[0].keys: must be "all" or a map of Secret key (alphanumerics, "-", "_", ".") -> JSON key, { path }, { jmespath } or { template }',
    ]);
  });
});

describe('parseConfig cross-checks', () => {
  const TWO_CLUSTERS = `clusters:
  prod-eu: { eks: { name: prod-eu, region: eu-west-1 } }
  prod-us: { eks: { name: prod-us, region: us-east-1 } }
`;

  it('still reports an unknown cluster when another field has a schema error', () => {
    // Prepare: a typo'd field name in one target, an unknown cluster in another.
    const text = `${TWO_CLUSTERS}syncs:
  - source: { secret: app/db }
    targets:
      - { clusters: [prod-eu], namespace: [app] }
      - { clusters: [prod-ap], namespaces: [app] }
`;

    // Act
    const issues = issuesOf(() => parseConfig(text, 'f.yaml'));

    // Assess
    expect(issues).toContain('f.yaml: syncs[0].targets[0]: unknown field "namespace"; did you mean "namespaces"?');
    expect(issues).toContain(
      'f.yaml: syncs[0].targets[1].clusters[0]: unknown cluster "prod-ap" (defined: prod-eu, prod-us)',
    );
  });

  it('still reports an unknown cluster when a cluster definition is invalid', () => {
    // Act
    const issues = issuesOf(() =>
      parseConfig(`clusters:
  prod-eu: { eks: { name: prod-eu, region: eu-west } }
syncs:
  - source: { secret: app/db }
    targets: [{ clusters: [prod-ue], namespaces: [app] }]
`),
    );

    // Assess
    expect(issues).toEqual([
      'configuration: clusters.prod-eu.eks.region: must be an AWS region such as eu-west-1',
      'configuration: syncs[0].targets[0].clusters[0]: unknown cluster "prod-ue"; did you mean "prod-eu"? (defined: prod-eu)',
    ]);
  });

  it('suggests the nearest cluster name, counting a swap of two characters as one edit', () => {
    // Act
    const issues = issuesOf(() =>
      parseConfig(`${TWO_CLUSTERS}syncs:
  - source: { secret: app/db }
    targets: [{ clusters: [prod-eu, prod-ue, staging], namespaces: [app] }]
`),
    );

    // Assess
    expect(issues).toEqual([
      'configuration: syncs[0].targets[0].clusters[1]: unknown cluster "prod-ue"; did you mean "prod-eu"? (defined: prod-eu, prod-us)',
      'configuration: syncs[0].targets[0].clusters[2]: unknown cluster "staging" (defined: prod-eu, prod-us)',
    ]);
  });

  it.each([
    ['the top level', 'default: {}\n', '(root): unknown field "default"; did you mean "defaults"?'],
    ['a source', '', 'syncs[0].source: unknown field "tag"; did you mean "tags"?'],
    [
      'defaults',
      'defaults: { clusterConcurency: 4 }\n',
      'defaults: unknown field "clusterConcurency"; did you mean "clusterConcurrency"?',
    ],
  ])('suggests the nearest field for an unknown field of %s', (_where, extra, issue) => {
    // Prepare
    const source = extra === '' ? '{ namePrefix: app/, tag: { team: a } }' : '{ secret: app/db }';
    const text = `clusters: { a: { eks: { name: a, region: eu-west-1 } } }
${extra}syncs:
  - source: ${source}
    targets: [{ clusters: [a], namespaces: [app] }]
`;

    // Act
    const issues = issuesOf(() => parseConfig(text));

    // Assess
    expect(issues).toContain(`configuration: ${issue}`);
  });

  it('names an unknown field without a suggestion when none is near', () => {
    expect(issuesOf(() => parseConfig(withTarget('frobnicate: true')))).toEqual([
      'configuration: syncs[0].targets[0]: unknown field "frobnicate"',
    ]);
  });

  it.each([
    [
      'kubernetes.io/tls mapped to cert and key',
      'type: kubernetes.io/tls, keys: { cert: certificate, key: private }',
      'syncs[0].targets[0].keys: Secret type "kubernetes.io/tls" needs keys "tls.crt", "tls.key" (this target maps "cert", "key")',
    ],
    [
      'kubernetes.io/tls with one of its keys',
      'type: kubernetes.io/tls, keys: { tls.crt: certificate, key: private }',
      'syncs[0].targets[0].keys: Secret type "kubernetes.io/tls" needs key "tls.key" (this target maps "tls.crt", "key")',
    ],
    [
      'kubernetes.io/dockerconfigjson as one other key',
      'type: kubernetes.io/dockerconfigjson, asKey: config.json',
      'syncs[0].targets[0].asKey: Secret type "kubernetes.io/dockerconfigjson" needs key ".dockerconfigjson" (this target maps "config.json")',
    ],
    [
      'kubernetes.io/basic-auth without username or password',
      'type: kubernetes.io/basic-auth, keys: { user: name, pass: secret }',
      'syncs[0].targets[0].keys: Secret type "kubernetes.io/basic-auth" needs at least one of the keys "username", "password" (this target maps "user", "pass")',
    ],
    [
      'kubernetes.io/ssh-auth without ssh-privatekey',
      'type: kubernetes.io/ssh-auth, keys: { id_rsa: key }',
      'syncs[0].targets[0].keys: Secret type "kubernetes.io/ssh-auth" needs key "ssh-privatekey" (this target maps "id_rsa")',
    ],
    [
      'kubernetes.io/service-account-token without its annotation',
      'type: kubernetes.io/service-account-token, keys: { token: t }',
      'syncs[0].targets[0].annotations: Secret type "kubernetes.io/service-account-token" needs the annotation "kubernetes.io/service-account.name"',
    ],
    [
      'the typo kubernetes.io/dockercfgjson',
      'type: kubernetes.io/dockercfgjson, asKey: .dockerconfigjson',
      'syncs[0].targets[0].type: unknown Secret type "kubernetes.io/dockercfgjson"; did you mean "kubernetes.io/dockerconfigjson"?',
    ],
  ])('refuses %s, naming the target and the keys', (_what, fields, issue) => {
    expect(issuesOf(() => parseConfig(withTarget(fields)))).toEqual([`configuration: ${issue}`]);
  });

  it('lists the built-in types for an unknown kubernetes.io/ type with no near one', () => {
    const [issue] = issuesOf(() => parseConfig(withTarget('type: kubernetes.io/bogus-thing-entirely')));

    expect(issue).toMatch(
      /unknown Secret type "kubernetes\.io\/bogus-thing-entirely" \(built-in types: Opaque, .*kubernetes\.io\/tls/,
    );
  });

  it.each([
    ['kubernetes.io/tls mapped to its keys', 'type: kubernetes.io/tls, keys: { tls.crt: cert, tls.key: key }'],
    ['kubernetes.io/tls with keys: all (checked when the value is read)', 'type: kubernetes.io/tls'],
    ['kubernetes.io/basic-auth with a username only', 'type: kubernetes.io/basic-auth, keys: { username: user }'],
    ['kubernetes.io/dockerconfigjson as its one key', 'type: kubernetes.io/dockerconfigjson, asKey: .dockerconfigjson'],
    ['a custom type', 'type: example.com/custom, keys: { a: b }'],
    [
      'kubernetes.io/service-account-token with its annotation',
      'type: kubernetes.io/service-account-token, annotations: { kubernetes.io/service-account.name: app }',
    ],
  ])('accepts %s', (_what, fields) => {
    expect(() => parseConfig(withTarget(fields))).not.toThrow();
  });

  it('checks the type of a selector target too, and reports the type and a schema error together', () => {
    // Act
    const issues = issuesOf(() =>
      parseConfig(withTarget('type: kubernetes.io/tls, keys: { crt: a }, restart: always', '{ namePrefix: certs/ }')),
    );

    // Assess
    expect(issues).toHaveLength(2);
    expect(issues[0]).toMatch(/^configuration: syncs\[0\]\.targets\[0\]\.restart: must be "auto"/);
    expect(issues[1]).toBe(
      'configuration: syncs[0].targets[0].keys: Secret type "kubernetes.io/tls" needs keys "tls.crt", "tls.key" (this target maps "crt")',
    );
  });
});

/** Three clusters in one target, and the sync's `rollout` as a YAML flow mapping. */
function withWaves(rollout: string): string {
  return `clusters:
  staging: { eks: { name: staging, region: eu-west-1 } }
  prod-eu: { eks: { name: prod-eu, region: eu-west-1 } }
  prod-us: { eks: { name: prod-us, region: us-east-1 } }
syncs:
  - source: { secret: app/db }
    targets:
      - { clusters: [staging, prod-eu, prod-us], namespaces: [app] }
    rollout: ${rollout}
`;
}

describe('parseConfig: rollout waves', () => {
  it('reads the waves, the health timeout in milliseconds and the failure policy', () => {
    // Act
    const config = parseConfig(
      withWaves('{ waves: [[staging], [prod-eu, prod-us]], healthTimeout: 5m, checkEvery: 1m, onFailure: halt }'),
    );

    // Assess
    expect(config.syncs[0]?.rollout).toEqual({
      waves: [['staging'], ['prod-eu', 'prod-us']],
      healthTimeout: 300_000,
      checkEvery: 60_000,
      onFailure: 'halt',
    });
  });

  it('defaults to a 10-minute health timeout, a check every 30 s and halt', () => {
    // Act
    const config = parseConfig(withWaves('{ waves: [[staging], [prod-eu], [prod-us]] }'));

    // Assess
    expect(config.syncs[0]?.rollout).toMatchObject({ healthTimeout: 600_000, checkEvery: 30_000, onFailure: 'halt' });
  });

  it('refuses a check interval above the 15 minutes an SQS delay can wait', () => {
    // Act + Assess
    expect(() => parseConfig(withWaves('{ waves: [[staging], [prod-eu], [prod-us]], checkEvery: 16m }'))).toThrow(
      /syncs\[0\]\.rollout\.checkEvery: must be at most 15m/,
    );
  });

  it('accepts onFailure: rollback', () => {
    // Act
    const config = parseConfig(withWaves('{ waves: [[staging], [prod-eu], [prod-us]], onFailure: rollback }'));

    // Assess
    expect(config.syncs[0]?.rollout?.onFailure).toBe('rollback');
  });

  it('refuses a wave cluster that is not a target cluster, one listed twice, and a target cluster in no wave', () => {
    // Act
    const issues = issuesOf(() => parseConfig(withWaves('{ waves: [[staging], [prod-ue, staging]] }')));

    // Assess
    expect(issues).toEqual([
      'configuration: syncs[0].rollout.waves[1][0]: "prod-ue" is not a cluster of this sync\'s targets; did you mean "prod-eu"? (targets: staging, prod-eu, prod-us)',
      'configuration: syncs[0].rollout.waves[1][1]: cluster "staging" is already in syncs[0].rollout.waves[0]',
      'configuration: syncs[0].rollout.waves: clusters "prod-eu", "prod-us" of the targets are in no wave; add them to one',
    ]);
  });

  it.each([
    ['a bare number', '{ waves: [[staging, prod-eu, prod-us]], healthTimeout: 300 }'],
    ['an unknown unit', '{ waves: [[staging, prod-eu, prod-us]], healthTimeout: 5d }'],
    ['an unknown policy', '{ waves: [[staging, prod-eu, prod-us]], onFailure: retry }'],
    ['an empty wave', '{ waves: [[staging, prod-eu, prod-us], []] }'],
  ])('refuses %s', (_what, rollout) => {
    // Act
    const issues = issuesOf(() => parseConfig(withWaves(rollout)));

    // Assess
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^configuration: syncs\[0\]\.rollout\./);
  });
});

describe('loadConfigFile', () => {
  it('reads and validates a file, naming it in errors', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'config-test-'));
    const good = join(dir, 'good.yaml');
    const bad = join(dir, 'bad.yaml');
    await writeFile(good, SAMPLE);
    await writeFile(bad, withTarget('restart: sometimes'));

    // Act
    const config = await loadConfigFile(good);
    const error = await loadConfigFile(bad).catch((e: unknown) => e);

    // Assess
    expect(config.syncs).toHaveLength(4);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]).toMatch(new RegExp(`^${bad}: syncs\\[0\\]\\.targets\\[0\\]\\.restart`));
  });

  it('throws a ConfigError naming an unreadable file and the reason', async () => {
    // Prepare
    const path = join(tmpdir(), 'does-not-exist', 'sync.yaml');

    // Act
    const error = await loadConfigFile(path).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([`${path}: cannot read configuration file (ENOENT)`]);
    expect((error as ConfigError).code).toBe('InvalidConfig');
  });
});
