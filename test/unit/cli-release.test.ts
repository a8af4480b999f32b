import { beforeAll, describe, expect, it } from 'vitest';
import { parseCliArgs, UsageError } from '../../lib/cli/args.js';
import { runCli } from '../../lib/cli/run.js';
import { parseConfig } from '../../lib/config/index.js';
import { SyncEngine } from '../../lib/sync/engine.js';
import { CLI_CONFIG, capturedIO, configDir } from '../support/cli.js';
import { envFromSpec, FakeConnector, FakeKubeApi, FakeSecretSource } from '../support/fakes.js';

const CONFIG = `${CLI_CONFIG}    rollout: { waves: [[alpha], [beta]], onFailure: rollback }
defaults: { rollout: { waitMs: 1000 } }
`;
const SECRET_VALUE = 'cli-release-CANARY-5c1';

let dir: string;
beforeAll(async () => {
  dir = await configDir('cli-release-', CONFIG);
});

/** Version 1 on both waves; version 2 failed in wave 1 (alpha), rolled back and held. */
async function heldFleet() {
  const source = new FakeSecretSource();
  const apis = ['alpha', 'beta'].map((name) => new FakeKubeApi(name, { namespaces: ['payments'] }));
  for (const api of apis) api.seedWorkload({ namespace: 'payments', name: 'api', podSpec: envFromSpec('app-db') });
  const connector = new FakeConnector(apis);
  const engine = new SyncEngine({ config: parseConfig(CONFIG), source, clusters: connector, sleep: async () => {} });
  const rotation = { trigger: 'rotation' as const, dryRun: false, restart: true, secrets: ['demo/app-db'] };
  source.put('demo/app-db', { password: 'one' });
  await engine.run(rotation);
  connector.api('alpha').scriptRollout('payments', 'Deployment', 'api', [{ progressDeadlineExceeded: true }]);
  const second = source.put('demo/app-db', { password: SECRET_VALUE });
  await engine.run(rotation);
  const { io, out } = capturedIO(dir, { createEngine: async () => engine });
  return { engine, io, out, second, api: (name: string) => connector.api(name) };
}

describe('eks-secret-sync release', () => {
  it('needs --secret, and takes the filters and --timeout only', () => {
    // Act + Assess
    expect(parseCliArgs(['release', '--secret', 'a', '--cluster', 'x'])).toMatchObject({
      command: 'release',
      secrets: ['a'],
      clusters: ['x'],
    });
    expect(() => parseCliArgs(['release'])).toThrow(new UsageError('"release" needs --secret'));
    expect(() => parseCliArgs(['release', '--secret', 'a', '--dry-run'])).toThrow(UsageError);
  });

  it('status shows the hold; release removes it, says so, and status no longer shows it', async () => {
    // Prepare
    const f = await heldFleet();

    // Act
    const before = await runCli(['status'], f.io);
    const shown = f.out.stdout;
    f.out.stdout = '';
    const released = await runCli(['release', '--secret', 'demo/app-db'], f.io);
    const said = f.out.stdout;
    f.out.stdout = '';
    await runCli(['status'], f.io);

    // Assess
    expect(before).toBe(1);
    expect(shown).toMatch(
      new RegExp(
        `\\nHeld:\\n  version ${f.second} of demo/app-db held since \\S+: wave 1 of 2 failed \\(rolled back\\): .* \\(on alpha/payments/app-db\\); "eks-secret-sync release --secret demo/app-db" releases it\\n`,
      ),
    );
    expect(released).toBe(0);
    expect(said).toContain(`released the hold on version ${f.second} (wave 1 of 2 failed) on alpha/payments/app-db`);
    expect(said).toMatch(
      /release: 1 hold\(s\) removed of 2 Secret\(s\) looked at, 0 not readable in .*continues the waves\n$/,
    );
    expect(f.out.stdout).not.toContain('Held:');
    expect(f.api('alpha').secret('payments', 'app-db')?.annotations['eks-secret-sync.io/hold']).toBeUndefined();
    expect(shown + said).not.toContain(SECRET_VALUE);
  });

  it('exits 1 when a Secret could not be read, naming it; the hold stays', async () => {
    // Prepare
    const f = await heldFleet();
    f.api('alpha').fail('getSecretMetadata', () => new Error('connection reset'));

    // Act
    const code = await runCli(['release', '--secret', 'demo/app-db', '--json'], f.io);

    // Assess
    expect(code).toBe(1);
    const report = JSON.parse(f.out.stdout) as { released: unknown[]; failed: Array<{ cluster: string }> };
    expect(report.released).toEqual([]);
    expect(report.failed).toEqual([expect.objectContaining({ cluster: 'alpha', secret: 'app-db' })]);
    expect(f.api('alpha').secret('payments', 'app-db')?.annotations['eks-secret-sync.io/hold']).toBeDefined();
  });
});
