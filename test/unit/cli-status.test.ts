import { beforeAll, describe, expect, it } from 'vitest';
import { parseCliArgs, UsageError } from '../../lib/cli/args.js';
import { helpText } from '../../lib/cli/help.js';
import { runCli } from '../../lib/cli/run.js';
import { formatStatus } from '../../lib/cli/status.js';
import { parseConfig } from '../../lib/config/index.js';
import { SyncEngine } from '../../lib/sync/engine.js';
import type { StatusReport } from '../../lib/sync/status.js';
import { CLI_CONFIG, capturedIO, configDir } from '../support/cli.js';
import { b64, envFromSpec, FakeConnector, FakeKubeApi, FakeSecretSource } from '../support/fakes.js';
import { seedConsumerAt } from '../support/fixtures.js';

const CONFIG = CLI_CONFIG;
const SECRET_VALUE = 'cli-status-CANARY-77a1';

let dir: string;
beforeAll(async () => {
  dir = await configDir('cli-status-', CONFIG);
});

/** The real engine over fakes, synced once; the CLI's output captured. */
async function fleet() {
  const config = parseConfig(CONFIG);
  const source = new FakeSecretSource();
  const first = source.put('demo/app-db', { password: SECRET_VALUE });
  const apis = ['alpha', 'beta'].map((name) => new FakeKubeApi(name, { namespaces: ['payments'] }));
  for (const api of apis) api.seedWorkload({ namespace: 'payments', name: 'api', podSpec: envFromSpec('app-db') });
  const connector = new FakeConnector(apis);
  const engine = new SyncEngine({ config, source, clusters: connector });
  await engine.run({ trigger: 'backfill', dryRun: false, restart: true });
  const { io, out } = capturedIO(dir, { createEngine: async () => engine });

  return { source, connector, engine, io, out, first, api: (name: string) => connector.api(name) };
}

describe('eks-secret-sync status', () => {
  it('parses its filters, --json and --timeout, and refuses options that write', () => {
    // Act
    const args = parseCliArgs(['status', '--secret', 'a', '--cluster', 'x', '--json', '--timeout', '30s']);

    // Assess
    expect(args).toEqual({
      kind: 'run',
      command: 'status',
      json: true,
      dryRun: false,
      restart: true,
      secrets: ['a'],
      clusters: ['x'],
      timeoutMs: 30_000,
    });
    expect(() => parseCliArgs(['status', '--dry-run'])).toThrow(UsageError);
    expect(() => parseCliArgs(['status', '--event', 'e.json'])).toThrow('option --event does not apply to "status"');
    expect(helpText('0.0.0', 'status')).toContain('Usage: eks-secret-sync status [--secret ID]... [--cluster NAME]...');
  });

  it('exits 0 with a table of current bindings after a sync', async () => {
    // Prepare
    const f = await fleet();

    // Act
    const code = await runCli(['status'], f.io);

    // Assess
    expect(code).toBe(0);
    const lines = f.out.stdout.split('\n');
    expect(lines[0]).toMatch(
      /^CLUSTER\s+NAMESPACE\s+SECRET\s+STATE\s+IN CLUSTER\s+AWSCURRENT\s+SYNCED AT\s+CONSUMERS$/,
    );
    expect(lines[1]).toMatch(
      // SYNCED AT: the synced-at annotation the sync wrote.
      new RegExp(
        `^alpha\\s+payments\\s+app-db\\s+current\\s+${f.first}\\s+${f.first}\\s+\\d{4}-\\d\\d-\\d\\dT\\S+\\s+1 current$`,
      ),
    );
    expect(f.out.stdout).toContain('status: 2 bindings: 2 current, 0 behind, 0 unreadable in ');
    expect(f.out.stdout).not.toContain('Not current:');
    expect(f.source.reads()).toBe(1);
  });

  it('exits 1 after a rotation, showing both versions and why the row is behind', async () => {
    // Prepare
    const f = await fleet();
    const second = f.source.put('demo/app-db', { password: `${SECRET_VALUE}-2` });

    // Act
    const code = await runCli(['status', '--cluster', 'beta'], f.io);

    // Assess
    expect(code).toBe(1);
    expect(f.out.stdout).toMatch(new RegExp(`beta\\s+payments\\s+app-db\\s+behind\\s+${f.first}\\s+${second}\\s`));
    expect(f.out.stdout).toContain(`beta/payments/app-db: at version ${f.first}, AWSCURRENT is ${second}`);
    expect(f.out.stdout).not.toContain('alpha');
    expect(f.out.stderr).toContain('status: every configured secret, 1 cluster(s)...');
    expect(f.source.reads()).toBe(1);
  });

  it('exits 1 and names the error code of an unreadable cluster, the other rows shown', async () => {
    // Prepare
    const f = await fleet();
    f.connector.unavailable.add('beta');

    // Act
    const code = await runCli(['status'], f.io);

    // Assess
    expect(code).toBe(1);
    expect(f.out.stdout).toMatch(/alpha\s+payments\s+app-db\s+current/);
    expect(f.out.stdout).toMatch(/beta\s+payments\s+app-db\s+unreadable\s+\?\s+v1\s+-\s+\?/);
    expect(f.out.stdout).toContain('beta/payments/app-db: ClusterUnavailable: cluster "beta" is unavailable');
  });

  it('prints the StatusReport with --json, field names as documented, and never a value', async () => {
    // Prepare
    const f = await fleet();
    seedConsumerAt(f.api('alpha'), 'payments', 'old', 'an-older-fingerprint', 'app-db');

    // Act
    const code = await runCli(['status', '--json'], f.io);

    // Assess
    expect(code).toBe(1);
    const report = JSON.parse(f.out.stdout) as StatusReport;
    expect(Object.keys(report).sort()).toEqual(['bindings', 'durationMs', 'notes', 'sources', 'summary']);
    expect(report.summary).toEqual({ current: 1, behind: 1, unreadable: 0 });
    expect(report.bindings[0]).toEqual({
      cluster: 'alpha',
      namespace: 'payments',
      secret: 'app-db',
      source: 'demo/app-db',
      state: 'behind',
      sourceVersionId: f.first,
      clusterVersionId: f.first,
      secretExists: true,
      syncedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      consumers: [
        { kind: 'Deployment', name: 'api', state: 'current' },
        { kind: 'Deployment', name: 'old', state: 'stale' },
      ],
    });
    for (const output of [f.out.stdout, f.out.stderr]) {
      expect(output).not.toContain(SECRET_VALUE);
      expect(output).not.toContain(b64(SECRET_VALUE));
    }
  });

  it('passes --timeout to the engine as the deadline, and exits 2 for a filter naming nothing configured', async () => {
    // Prepare
    const f = await fleet();
    const seen: unknown[] = [];
    // The engine keeps the real clock: the CLI's clock must be on the same time line.
    const start = Date.now();
    f.io.now = () => start;
    f.io.createEngine = async () => ({
      run: () => Promise.reject(new Error('not used')),
      status: (request, options) => {
        seen.push(options);
        return f.engine.status(request, options);
      },
    });

    // Act
    const code = await runCli(['status', '--timeout', '1m'], f.io);
    const unknown = await runCli(['status', '--cluster', 'gamma'], f.io);

    // Assess
    expect(code).toBe(0);
    expect(seen[0]).toEqual({ deadlineAt: start + 60_000 });
    expect(unknown).toBe(2);
    expect(f.out.stderr).toContain('unknown cluster "gamma"');
  });
});

describe('formatStatus', () => {
  it('shows a missing Secret, consumer counts by state, the last sync and short version ids', () => {
    // Prepare
    const report: StatusReport = {
      sources: [{ id: 'prod/db', versionId: '9c1d2e3f-aaaa-bbbb-cccc-000000000002' }],
      bindings: [
        {
          cluster: 'eu',
          namespace: 'payments',
          secret: 'db',
          source: 'prod/db',
          state: 'behind',
          sourceVersionId: '9c1d2e3f-aaaa-bbbb-cccc-000000000002',
          clusterVersionId: '3f2a1b0c-aaaa-bbbb-cccc-000000000001',
          secretExists: true,
          syncedAt: '2026-12-03T09:58:12Z',
          consumers: [
            { kind: 'Deployment', name: 'api', state: 'current' },
            { kind: 'StatefulSet', name: 'ledger', state: 'pending' },
            { kind: 'Deployment', name: 'old', state: 'stale' },
          ],
        },
        {
          cluster: 'us',
          namespace: 'payments',
          secret: 'db',
          source: 'prod/db',
          state: 'behind',
          sourceVersionId: '9c1d2e3f-aaaa-bbbb-cccc-000000000002',
          secretExists: false,
          consumers: [],
        },
      ],
      summary: { current: 0, behind: 2, unreadable: 0 },
      notes: [],
      durationMs: 1234,
    };

    // Act
    const text = formatStatus(report);

    // Assess
    expect(text).toMatch(
      /eu\s+payments\s+db\s+behind\s+3f2a1b0c\s+9c1d2e3f\s+2026-12-03T09:58:12Z\s+1 current, 1 stale, 1 pending\n/,
    );
    expect(text).toMatch(/us\s+payments\s+db\s+behind\s+missing\s+9c1d2e3f\s+-\s+-\n/);
    expect(text).toContain(
      'eu/payments/db: at version 3f2a1b0c-aaaa-bbbb-cccc-000000000001, AWSCURRENT is 9c1d2e3f-aaaa-bbbb-cccc-000000000002; stale consumers: Deployment/old; restart pending: StatefulSet/ledger',
    );
    expect(text).toContain('us/payments/db: Secret missing; AWSCURRENT is 9c1d2e3f-aaaa-bbbb-cccc-000000000002');
    expect(text).toContain('status: 2 bindings: 0 current, 2 behind, 0 unreadable in 1.2s');
  });
});
