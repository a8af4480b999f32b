import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS, GLOBAL_OPTIONS, OPTIONS, parseCliArgs, UsageError } from '../../lib/cli/args.js';
import { formatPlan } from '../../lib/cli/format.js';
import { runCli } from '../../lib/cli/run.js';
import { renderTable } from '../../lib/cli/table.js';
import { cliLog } from '../../lib/cli/wiring.js';
import { parseConfig } from '../../lib/config/index.js';
import type { SyncRequest } from '../../lib/domain/request.js';
import { SyncEngine } from '../../lib/sync/engine.js';
import { emptyReport } from '../../lib/sync/stages/report.js';
import type { BindingResult, SyncReport } from '../../lib/sync/types.js';
import { CLI_CONFIG, capturedIO, configDir } from '../support/cli.js';
import { envFromSpec, FakeConnector, FakeKubeApi, FakeSecretSource } from '../support/fakes.js';

const CONFIG = CLI_CONFIG;

function report(overrides: Partial<SyncReport> = {}): SyncReport {
  return { ...emptyReport({ trigger: 'backfill', dryRun: false }), durationMs: 1234, ...overrides };
}

/** The result of binding a/n/s (source x) with `fields`. */
function binding(
  fields: Omit<BindingResult, 'cluster' | 'namespace' | 'secret' | 'source'> & { cluster?: string },
): BindingResult {
  return { cluster: 'a', namespace: 'n', secret: 's', source: 'x', ...fields };
}

/** Captures output; the engine is a fake that records its request and returns `result`. */
function harness(cwd: string, result: SyncReport | Error = report()) {
  const requests: SyncRequest[] = [];
  const { io, out } = capturedIO(cwd, {
    createEngine: async () => ({
      run: async (request) => {
        requests.push(request);
        if (result instanceof Error) throw result;
        return result;
      },
    }),
  });
  return { io, out: Object.assign(out, { requests }) };
}

let dir: string;
beforeAll(async () => {
  dir = await configDir('cli-test-', CONFIG);
  await writeFile(join(dir, 'bad.yaml'), 'clusters: {}\nsyncs: []\n');
});

describe('parseCliArgs', () => {
  it('reads repeatable filters, --no-restart and --dry-run, with global options anywhere', () => {
    // Act
    const args = parseCliArgs([
      '--json',
      'backfill',
      '--secret',
      'a',
      '--secret=b',
      '--cluster',
      'alpha',
      '--namespace',
      'ns1',
      '--no-restart',
      '--dry-run',
      '--config',
      'x.yaml',
    ]);

    // Assess
    expect(args).toEqual({
      kind: 'run',
      command: 'backfill',
      json: true,
      config: 'x.yaml',
      secrets: ['a', 'b'],
      clusters: ['alpha'],
      namespaces: ['ns1'],
      dryRun: true,
      restart: false,
    });
  });

  it('defaults to restarts, no dry run and no filters', () => {
    expect(parseCliArgs(['reconcile'])).toEqual({
      kind: 'run',
      command: 'reconcile',
      json: false,
      dryRun: false,
      restart: true,
    });
  });

  it.each([
    [['--help'], { kind: 'help' }],
    [['-h'], { kind: 'help' }],
    [['help'], { kind: 'help' }],
    [['help', 'backfill'], { kind: 'help', command: 'backfill' }],
    [['plan', '--help'], { kind: 'help', command: 'plan' }],
    [['--version'], { kind: 'version' }],
    [['-v'], { kind: 'version' }],
  ])('reads %j as %j', (argv, expected) => {
    expect(parseCliArgs(argv)).toEqual(expected);
  });

  it.each([
    [[], 'missing command'],
    [['deploy'], 'unknown command "deploy"'],
    [['plan', '--frobnicate'], "Unknown option '--frobnicate'"],
    [['reconcile', '--secret', 'a'], 'option --secret does not apply to "reconcile"'],
    [['plan', '--dry-run'], 'option --dry-run does not apply to "plan"'],
    [['sync'], '"sync" needs --event'],
    [['backfill', 'extra'], 'unexpected argument "extra"'],
    [['backfill', '--secret'], "Option '--secret <value>' argument missing"],
    [['help', 'nope'], 'unknown command "nope"'],
  ])('rejects %j with a usage error', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(UsageError);
    expect(() => parseCliArgs(argv)).toThrow(message);
  });
});

describe('runCli --help', () => {
  it('documents every command and every option', async () => {
    // Prepare
    const { io, out } = harness(dir);

    // Act
    const code = await runCli(['--help'], io);

    // Assess
    expect(code).toBe(0);
    for (const command of COMMANDS) expect(out.stdout).toContain(`  ${command.name} `);
    for (const option of [...OPTIONS, ...GLOBAL_OPTIONS]) expect(out.stdout).toContain(`--${option.name}`);
    expect(out.stdout).toMatch(/Exit codes: 0 .* 1 .* 2 bad input/);
  });

  it('documents each command with its own options', async () => {
    for (const command of COMMANDS) {
      const { io, out } = harness(dir);
      expect(await runCli([command.name, '--help'], io)).toBe(0);
      expect(out.stdout).toContain(`Usage: eks-secret-sync ${command.name}`);
      for (const option of command.options) expect(out.stdout).toContain(`--${option}`);
    }
  });

  it('prints the package version', async () => {
    const { io, out } = harness(dir);
    expect(await runCli(['--version'], io)).toBe(0);
    expect(out.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

describe('runCli exit codes', () => {
  it.each([
    [
      'on a usage error, naming it on stderr',
      ['backfill', '--event', 'x.json'],
      ['option --event does not apply to "backfill"'],
    ],
    [
      'when the configuration file is missing',
      ['plan', '--config', 'missing.yaml'],
      ['missing.yaml: cannot read configuration file (ENOENT)'],
    ],
    [
      'on an invalid configuration and prints each issue with its place',
      ['validate', '--config', 'bad.yaml'],
      ['bad.yaml: clusters: must define a cluster', 'bad.yaml: syncs:'],
    ],
  ])('exits 2 %s, printing nothing on stdout', async (_, argv, messages) => {
    const { io, out } = harness(dir);
    expect(await runCli(argv, io)).toBe(2);
    for (const message of messages) expect(out.stderr).toContain(message);
    expect(out.stdout).toBe('');
  });

  it('reads the configuration from EKS_SYNC_CONFIG when --config is absent', async () => {
    const { io, out } = harness('/', report());
    io.env = { EKS_SYNC_CONFIG: join(dir, 'bad.yaml') };
    expect(await runCli(['validate'], io)).toBe(2);
    expect(out.stderr).toContain('bad.yaml');
  });

  it('validate names a kubeconfig context that cannot be loaded, and exits 2', async () => {
    const { io, out } = harness(dir);
    expect(await runCli(['validate', '--json'], io)).toBe(2);
    expect(out.stderr).toContain('clusters.alpha.kubeconfig: cannot read kubeconfig "/nonexistent/kubeconfig"');
    expect(JSON.parse(out.stdout)).toMatchObject({ error: { code: 'InvalidConfig' } });
  });

  it('validate prints every problem at once: a schema error, an unknown cluster, a kubeconfig that fails', async () => {
    // Prepare: a typo'd field, a cluster misspelt, and alpha's kubeconfig file that does not exist.
    const path = join(dir, 'typos.yaml');
    await writeFile(
      path,
      CONFIG.replace('[alpha, beta]', '[alpha, betta]').replace(
        'secret: app-db',
        'secret: app-db\n        adpot: true',
      ),
    );
    const { io, out } = harness(dir);

    // Act
    const code = await runCli(['validate', '--config', path], io);

    // Assess
    expect(code).toBe(2);
    expect(out.stderr).toContain(`${path}: syncs[0].targets[0]: unknown field "adpot"; did you mean "adopt"?`);
    expect(out.stderr).toContain(
      `${path}: syncs[0].targets[0].clusters[1]: unknown cluster "betta"; did you mean "beta"? (defined: alpha, beta)`,
    );
    expect(out.stderr).toContain('clusters.alpha.kubeconfig: cannot read kubeconfig "/nonexistent/kubeconfig"');
  });

  it('validate accepts a configuration without kubeconfig clusters', async () => {
    // Prepare
    const path = join(dir, 'eks-only.yaml');
    await writeFile(path, CONFIG.replace(/ {2}alpha:.*\n/, '').replace('[alpha, beta]', '[beta]'));
    const { io, out } = harness(dir);

    // Act
    const code = await runCli(['validate', '--config', path], io);

    // Assess
    expect(code).toBe(0);
    expect(out.stdout).toContain('valid: 1 clusters (1 EKS, 0 kubeconfig), 1 syncs (0 selectors), 1 targets');
  });

  it('exits 2 on invalid filters, before the engine runs', async () => {
    const { io, out } = harness(dir);
    expect(await runCli(['backfill', '--secret', ' '], io)).toBe(2);
    expect(out.stderr).toContain('invalid backfill input');
    expect(out.requests).toEqual([]);
  });

  it('exits 2 when the engine refuses the request (unknown cluster)', async () => {
    const { InputError } = await import('../../lib/errors.js');
    const { io, out } = harness(dir, new InputError('InvalidInput', 'unknown cluster "gamma"'));
    expect(await runCli(['backfill', '--cluster', 'gamma'], io)).toBe(2);
    expect(out.stderr).toContain('unknown cluster "gamma"');
  });

  it('exits 1 when a binding failed, after printing the whole report', async () => {
    // Prepare
    const failed = report({
      results: [
        { cluster: 'alpha', namespace: 'payments', secret: 'app-db', source: 's', action: 'updated', restarted: [] },
        {
          cluster: 'beta',
          namespace: 'payments',
          secret: 'app-db',
          source: 's',
          action: 'failed',
          restarted: [],
          error: { code: 'Forbidden', message: 'forbidden: create secrets in payments' },
        },
      ],
      summary: { ...report().summary, updated: 1, failed: 1 },
    });
    const { io, out } = harness(dir, failed);

    // Act
    const code = await runCli(['backfill'], io);

    // Assess
    expect(code).toBe(1);
    expect(out.stdout).toContain('beta/payments/app-db: Forbidden: forbidden: create secrets in payments');
    expect(out.stdout).toMatch(/alpha\s+payments\s+app-db\s+updated/);
  });

  it('exits 1 when the run stops on an AWS error', async () => {
    const { SyncError } = await import('../../lib/errors.js');
    const { io, out } = harness(dir, new SyncError('Forbidden', 'access denied to secretsmanager:ListSecrets'));
    expect(await runCli(['reconcile'], io)).toBe(1);
    expect(out.stderr).toContain('access denied to secretsmanager:ListSecrets');
  });

  it('exits 1 when a source lookup failed, even with no failed binding, and names it', async () => {
    // Prepare
    const failed = report({
      trigger: 'reconcile',
      sources: [{ id: 'selector {"namePrefix":"app/"}', error: { code: 'Forbidden', message: 'access denied' } }],
    });
    const { io, out } = harness(dir, failed);

    // Act
    const code = await runCli(['reconcile'], io);

    // Assess
    expect(code).toBe(1);
    expect(out.stdout).toContain('Failures:\n  source "selector {"namePrefix":"app/"}": Forbidden: access denied');
  });

  it('prints the report unchanged with --json and exits 0', async () => {
    const ok = report({ trigger: 'reconcile' });
    const { io, out } = harness(dir, ok);
    expect(await runCli(['reconcile', '--json'], io)).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual(ok);
    // stdout is the whole answer for a script; no progress lines with --json.
    expect(out.stderr).toBe('');
  });
});

describe('runCli requests', () => {
  async function requestFor(argv: string[]): Promise<SyncRequest | undefined> {
    const { io, out } = harness(dir);
    expect(await runCli(argv, io)).toBe(0);
    return out.requests[0];
  }

  it.each([
    {
      title: 'plan without filters is a dry-run reconcile',
      argv: ['plan'],
      request: { trigger: 'reconcile', dryRun: true, restart: true, origin: 'cli plan' },
    },
    {
      title: 'plan with filters is a dry-run backfill',
      argv: ['plan', '--secret', 'demo/app-db', '--namespace', 'payments'],
      request: {
        trigger: 'backfill',
        secrets: ['demo/app-db'],
        namespaces: ['payments'],
        dryRun: true,
        restart: true,
        origin: 'cli plan',
      },
    },
    {
      title: 'backfill passes filters, --no-restart and --dry-run',
      argv: ['backfill', '--cluster', 'alpha', '--no-restart', '--dry-run'],
      request: { trigger: 'backfill', clusters: ['alpha'], dryRun: true, restart: false, origin: 'cli backfill' },
    },
  ])('$title', async ({ argv, request }) => {
    expect(await requestFor(argv)).toEqual(request);
  });

  it('reconcile --dry-run is a dry run', async () => {
    expect(await requestFor(['reconcile', '--dry-run'])).toMatchObject({ trigger: 'reconcile', dryRun: true });
  });

  it('sync reads the event file like the on-rotation handler', async () => {
    const event = join(import.meta.dirname, '../../events/secret-label-updated-awscurrent.json');
    expect(await requestFor(['sync', '--event', event])).toMatchObject({
      trigger: 'rotation',
      secrets: [expect.stringContaining('demo/app-db')],
      versionId: expect.any(String),
      dryRun: false,
      restart: true,
    });
  });

  it('sync reads the event from stdin with --event -', async () => {
    // Prepare
    const event = await readFile(join(import.meta.dirname, '../../events/cloudtrail-put-secret-value.json'), 'utf8');
    const { io, out } = harness(dir);
    io.stdin = async () => event;

    // Act
    const code = await runCli(['sync', '--event', '-', '--dry-run'], io);

    // Assess
    expect(code).toBe(0);
    expect(out.requests[0]).toMatchObject({ trigger: 'rotation', dryRun: true, origin: 'cli sync' });
  });

  it('sync reports an ignored event and exits 0 without running the engine', async () => {
    // Prepare
    const event = join(import.meta.dirname, '../../events/cloudtrail-put-secret-value-pending.json');
    const { io, out } = harness(dir);

    // Act
    const code = await runCli(['sync', '--event', event], io);

    // Assess
    expect(code).toBe(0);
    expect(out.stdout).toMatch(/^event ignored: /);
    expect(out.requests).toEqual([]);
  });

  it.each([
    ['a malformed event', '../../events/malformed-missing-detail.json', 'invalid Secrets Manager event'],
    ['a missing file', 'nope.json', 'cannot read event file "nope.json" (ENOENT)'],
  ])('sync exits 2 on %s', async (_label, file, message) => {
    const { io, out } = harness(dir);
    const path = file.startsWith('..') ? join(import.meta.dirname, file) : file;
    expect(await runCli(['sync', '--event', path], io)).toBe(2);
    expect(out.stderr).toContain(message);
  });

  it('sync exits 2 on an event that is not JSON', async () => {
    await writeFile(join(dir, 'event.json'), '{ not json');
    const { io, out } = harness(dir);
    expect(await runCli(['sync', '--event', 'event.json'], io)).toBe(2);
    expect(out.stderr).toContain('event file "event.json" is not valid JSON');
  });
});

describe('runCli --timeout', () => {
  it.each([
    ['90s', 90_000],
    ['5m', 300_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['45', 45_000],
    ['1.5h', 5_400_000],
  ])('reads --timeout %s as %d ms', (text, ms) => {
    expect(parseCliArgs(['reconcile', '--timeout', text])).toMatchObject({ timeoutMs: ms });
  });

  // Under 1 ms would round to a deadline that has already passed; a unit given twice is a typo.
  it.each(['0s', 'soon', '5 m', '1m30', '5x', '25h', '', '0.4ms', '0.0001s', '5m5m', '30s1m'])(
    'rejects --timeout %j naming the option',
    (text) => {
      expect(() => parseCliArgs(['backfill', '--timeout', text])).toThrow(UsageError);
      expect(() => parseCliArgs(['backfill', '--timeout', text])).toThrow(`--timeout "${text}" is not a duration`);
    },
  );

  it('does not take --timeout for validate', () => {
    expect(() => parseCliArgs(['validate', '--timeout', '5s'])).toThrow(
      'option --timeout does not apply to "validate"',
    );
  });

  it('passes the deadline to the engine, counted from the start of the run', async () => {
    // Prepare
    const seen: Array<{ deadlineAt?: number } | undefined> = [];
    const { io } = harness(dir);
    io.now = () => 1_000_000;
    io.createEngine = async () => ({
      run: async (_request, options) => {
        seen.push(options);
        return report();
      },
    });

    // Act
    const code = await runCli(['backfill', '--timeout', '2m'], io);

    // Assess
    expect(code).toBe(0);
    expect(seen).toEqual([{ deadlineAt: 1_120_000 }]);
  });

  it('reports the finished cluster and fails the silent one with DeadlineExceeded, exit 1', async () => {
    // Prepare: the real engine over fakes; cluster beta accepts and never answers.
    const config = parseConfig(CONFIG);
    const source = new FakeSecretSource();
    source.put('demo/app-db', { DB_USER: 'app', DB_PASSWORD: 'pw-not-printed-1234' });
    const alpha = new FakeKubeApi('alpha', { namespaces: ['payments'] });
    const beta = new FakeKubeApi('beta', { namespaces: ['payments'] });
    beta.stall('getSecret');
    const { io, out } = harness(dir);
    io.createEngine = async (_config, progress) =>
      new SyncEngine({
        config,
        source,
        clusters: new FakeConnector([alpha, beta]),
        log: { info: () => {}, warn: () => {}, result: (r) => progress(`${r.cluster}: ${r.action}`) },
      });

    // Act
    const code = await runCli(['backfill', '--timeout', '200ms'], io);

    // Assess
    expect(code).toBe(1);
    expect(out.stdout).toMatch(/alpha\s+payments\s+app-db\s+created/);
    expect(out.stdout).toContain('beta/payments/app-db: DeadlineExceeded: pass deadline reached for cluster "beta"');
    expect(out.stderr).toContain('alpha: created\nbeta: failed\n');
    expect(out.stdout + out.stderr).not.toContain('pw-not-printed-1234');
  });
});

describe('runCli progress', () => {
  const VALUE = 'pw-not-printed-5678';

  /** The real engine and the CLI's own log over fakes: alpha and beta, one namespace each. */
  function fleet() {
    const config = parseConfig(CONFIG);
    const source = new FakeSecretSource();
    source.put('demo/app-db', { DB_USER: 'app', DB_PASSWORD: VALUE });
    const connector = new FakeConnector([
      new FakeKubeApi('alpha', { namespaces: ['payments'] }),
      new FakeKubeApi('beta', { namespaces: ['payments'] }),
    ]);
    const { io, out } = harness(dir);
    io.createEngine = async (_config, progress) =>
      new SyncEngine({ config, source, clusters: connector, log: cliLog(progress) });
    return { io, out, connector };
  }

  it('counts clusters on stderr as they finish, in short human lines and no JSON', async () => {
    // Prepare
    const { io, out } = fleet();

    // Act
    const code = await runCli(['backfill'], io);

    // Assess
    expect(code).toBe(0);
    const lines = out.stderr.trimEnd().split('\n');
    expect(lines).toContain('planned 2 binding(s): 1 secret(s) into 2 cluster(s)');
    expect(lines).toContain('alpha/payments/app-db: created');
    expect(lines.filter((l) => l.includes('clusters done'))).toEqual([
      expect.stringMatching(/^1\/2 clusters done \((alpha|beta)\)$/),
      expect.stringMatching(/^2\/2 clusters done \((alpha|beta)\)$/),
    ]);
    for (const line of lines) expect(line).not.toMatch(/[{}]|":/);
    expect(out.stdout + out.stderr).not.toContain(VALUE);
  });

  it("names a cluster's failed bindings in its count and words its warning, still without JSON", async () => {
    // Prepare
    const { io, out, connector } = fleet();
    connector.unavailable.add('beta');

    // Act
    const code = await runCli(['backfill'], io);

    // Assess
    expect(code).toBe(1);
    expect(out.stderr).toMatch(/^[12]\/2 clusters done \(beta: 1 of 1 binding\(s\) failed\)$/m);
    expect(out.stderr).toContain(
      'warning: cluster unavailable: cluster "beta", error ClusterUnavailable: cluster "beta" is unavailable: connect ETIMEDOUT\n',
    );
    expect(out.stderr).not.toMatch(/[{}]/);
  });

  it('prints no progress with --json, only the report on stdout', async () => {
    // Prepare
    const { io, out } = fleet();

    // Act
    const code = await runCli(['backfill', '--json'], io);

    // Assess
    expect(code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ summary: { created: 2 } });
    expect(out.stderr).toBe('');
  });
});

describe('formatPlan', () => {
  const SECRET_VALUE = 'hunter2-very-secret';

  /** A real engine over fakes: the value exists in the source, so leaking it would be visible. */
  async function dryRun(): Promise<SyncReport> {
    const config = parseConfig(`
clusters:
  alpha: { kubeconfig: { path: /x, context: alpha } }
syncs:
  - source: { secret: demo/app-db }
    targets:
      - clusters: [alpha]
        namespaces: [payments, web]
        secret: app-db
`);
    const source = new FakeSecretSource();
    source.put('demo/app-db', { DB_USER: 'app', DB_PASSWORD: SECRET_VALUE });
    const api = new FakeKubeApi('alpha', { namespaces: ['payments', 'web'] });
    api.seedWorkload({ namespace: 'payments', name: 'api', podSpec: envFromSpec('app-db') });
    api.seedWorkload({ kind: 'StatefulSet', namespace: 'payments', name: 'worker', podSpec: envFromSpec('app-db') });
    api.seedWorkload({ namespace: 'web', name: 'unrelated', podSpec: envFromSpec('other') });
    const engine = new SyncEngine({ config, source, clusters: new FakeConnector([api]) });
    const result = await engine.run({ trigger: 'backfill', dryRun: true, restart: true });
    expect(api.writes()).toBe(0);
    return result;
  }

  it('shows cluster, namespace, secret, action, changed key names and workloads to restart', async () => {
    // Act
    const text = formatPlan(await dryRun());

    // Assess
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^CLUSTER\s+NAMESPACE\s+SECRET\s+ACTION\s+CHANGED KEYS\s+WOULD RESTART$/);
    expect(lines[1]).toMatch(/^alpha\s+payments\s+app-db\s+create\s+DB_PASSWORD,DB_USER\s+/);
    expect(lines[1]).toContain('Deployment/api');
    expect(lines[1]).toContain('StatefulSet/worker');
    expect(lines[2]).toMatch(/^alpha\s+web\s+app-db\s+create\s+DB_PASSWORD,DB_USER\s+-$/);
    expect(text).toContain('backfill (dry run, nothing written): 2 bindings: 2 to create');
    expect(text).not.toContain('unrelated');
  });

  it('never shows a secret value, in the table or in --json', async () => {
    // Prepare
    const result = await dryRun();

    // Act
    const text = formatPlan(result);
    const json = JSON.stringify(result);

    // Assess
    for (const output of [text, json]) {
      expect(output).toContain('DB_PASSWORD');
      expect(output).not.toContain(SECRET_VALUE);
      expect(output).not.toContain(Buffer.from(SECRET_VALUE).toString('base64'));
    }
  });

  it('lists failures and notes below the table and marks drift', () => {
    // Prepare
    const r = report({
      trigger: 'reconcile',
      results: [
        binding({
          action: 'updated',
          drift: true,
          changedKeys: ['K'],
          restarted: [{ kind: 'Deployment', name: 'd', paused: true }],
          notes: ['paused Deployments were patched and roll out when resumed'],
        }),
        binding({
          cluster: 'b',
          action: 'failed',
          restarted: [],
          error: { code: 'ClusterUnavailable', message: 'cluster "b": connect ETIMEDOUT' },
        }),
      ],
      summary: { ...report().summary, updated: 1, failed: 1, restarts: 1 },
    });

    // Act
    const text = formatPlan(r);

    // Assess
    expect(text).toMatch(/a\s+n\s+s\s+updated \(drift\)\s+K\s+Deployment\/d \(paused\)/);
    expect(text).toContain('Failures:\n  b/n/s: ClusterUnavailable: cluster "b": connect ETIMEDOUT');
    expect(text).toContain('Notes:\n  a/n/s: paused Deployments were patched');
    expect(text).toContain('reconcile: 2 bindings: 1 updated, 1 failed, 1 restart, 1 with drift in 1.2s');
  });

  it('shows how each restart rolled out, and counts the outcomes in the summary line', () => {
    // Prepare
    const r = report({
      results: [
        binding({
          action: 'updated',
          changedKeys: ['K'],
          restarted: [
            { kind: 'Deployment', name: 'web', rollout: 'rolledOut' },
            { kind: 'Deployment', name: 'idle', paused: true, rollout: 'progressing' },
            { kind: 'StatefulSet', name: 'db', rollout: 'failed' },
          ],
          notes: ['StatefulSet/db rollout failed: no progress for 30 s (new pods not Ready): 2 of 3 pods ready'],
        }),
      ],
      summary: { ...report().summary, updated: 1, restarts: 3, rolledOut: 1, progressing: 1, rolloutFailed: 1 },
    });

    // Act
    const text = formatPlan(r);

    // Assess
    expect(text).toContain(
      'Deployment/web (rolled out), Deployment/idle (paused, progressing), StatefulSet/db (rollout failed)',
    );
    expect(text).toContain('Notes:\n  a/n/s: StatefulSet/db rollout failed: no progress for 30 s');
    expect(text).toContain('1 updated, 3 restarts (1 rolled out, 1 progressing, 1 rollout failed) in');
  });

  it('shows an orphaned Secret with its note, in a run and in a dry run', () => {
    // Prepare
    const orphan = {
      cluster: 'a',
      namespace: 'tools',
      secret: 'team-token',
      source: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/token-AbCdEf',
      action: 'orphaned' as const,
      restarted: [],
      notes: ['source secret "team/token" no longer matches the selector; Secret kept (deletionPolicy retain)'],
    };
    const summary = { ...report().summary, orphaned: 1 };

    // Act
    const text = formatPlan(report({ trigger: 'reconcile', results: [orphan], summary }));
    const dry = formatPlan(
      report({ trigger: 'reconcile', dryRun: true, results: [{ ...orphan, dryRun: true }], summary }),
    );

    // Assess
    expect(text).toMatch(/a\s+tools\s+team-token\s+orphaned\s+-\s+-/);
    expect(text).toContain('Notes:\n  a/tools/team-token: source secret "team/token" no longer matches the selector');
    expect(text).toContain('reconcile: 1 bindings: 1 orphaned, 0 restarts in 1.2s');
    expect(dry).toContain('reconcile (dry run, nothing written): 1 bindings: 1 orphaned, 0 restarts planned');
  });

  it('says so when nothing matches', () => {
    expect(formatPlan(report())).toContain('No bindings: nothing in the configuration matches this request.');
  });
});

describe('renderTable', () => {
  it('aligns columns two spaces apart without trailing blanks', () => {
    expect(
      renderTable(
        ['A', 'BB'],
        [
          ['xxx', 'y'],
          ['z', ''],
        ],
      ),
    ).toBe('A    BB\nxxx  y\nz');
  });

  it('right-aligns the columns asked for and rules the header off', () => {
    expect(
      renderTable(
        ['name', 'n'],
        [
          ['a', '10'],
          ['bb', '7'],
        ],
        { align: ['left', 'right'], rule: true },
      ),
    ).toBe('name   n\n----  --\na     10\nbb     7');
  });
});
