/**
 * The CLI in-process, as the unit tests (and the import test on the stack) run it: a `CliIO` that captures stdout
 * and stderr.
 */
import type { CliIO } from '../../lib/cli/run.js';

/** The CLI tests' configuration: `demo/app-db` into Secret `app-db` of namespace payments in clusters alpha and beta. */
export const CLI_CONFIG = `
clusters:
  alpha: { kubeconfig: { path: /nonexistent/kubeconfig, context: alpha } }
  beta: { eks: { name: beta, region: eu-west-1 } }
syncs:
  - source: { secret: demo/app-db }
    targets:
      - clusters: [alpha, beta]
        namespaces: [payments]
        secret: app-db
`;

/** What a captured run printed so far. */
export interface Captured {
  stdout: string;
  stderr: string;
}

/** A `CliIO` in `cwd` with no environment, capturing both streams into `out`; `overrides` add an engine, stdin, env. */
export function capturedIO(cwd: string, overrides: Partial<CliIO> = {}): { io: CliIO; out: Captured } {
  const out: Captured = { stdout: '', stderr: '' };
  const io: CliIO = {
    stdout: (t) => {
      out.stdout += t;
    },
    stderr: (t) => {
      out.stderr += t;
    },
    env: {},
    cwd,
    ...overrides,
  };
  return { io, out };
}
