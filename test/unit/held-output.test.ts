/**
 * test/support/held-output.ts, the setup file of every project: handler logs of a passing test stay out of the
 * run's output, those of a failing test (or failing hook) are printed, and recorders above it see everything.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

function runFixtures(env: NodeJS.ProcessEnv = {}): string {
  const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
  const args = [vitest, 'run', '--config', 'test/fixtures/held-output/vitest.config.ts'];
  const { stdout, stderr } = spawnSync(process.execPath, args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', EKS_SYNC_TEST_OUTPUT: '', ...env },
  });
  return stdout + stderr;
}

describe('held test output', () => {
  it('prints the logs of the failing test and hook only, and keeps vitest console output', () => {
    const out = runFixtures();

    expect(out).toContain('LOG-OF-A-FAILING-TEST');
    expect(out).toContain('LOG-OF-A-FAILING-HOOK');
    expect(out).toMatch(/--- output of the failed test ".*logs\.fixture\.ts > logs > fails" \(1 lines\) ---/);
    expect(out).not.toContain('LOG-OF-A-PASSING-TEST');
    expect(out).not.toContain('LOG-OF-A-LATER-PASSING-TEST');
    expect(out).not.toContain('LOG-OF-BEFOREALL');
    expect(out).toContain('CONSOLE-OF-A-PASSING-TEST');
    // Only the deliberate failures: the passing tests' own assertions held (a recorder above sees every line).
    expect(out).toMatch(/Tests +1 failed \| 2 passed \| 1 skipped \(4\)/);
  });

  it('passes everything through with EKS_SYNC_TEST_OUTPUT=all', () => {
    const out = runFixtures({ EKS_SYNC_TEST_OUTPUT: 'all' });

    expect(out).toContain('LOG-OF-A-PASSING-TEST');
    expect(out).toContain('LOG-OF-BEFOREALL');
  });
});
