/**
 * The CLI in tests: in-process, as the unit tests (and the import test on the stack) run it, with a `CliIO` that
 * captures stdout and stderr; or as a child process, as a user runs it on the stack.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** A fresh temporary folder (named `prefix`…) holding `config` as `eks-secret-sync.yaml`, the file the CLI finds by default. */
export async function configDir(prefix: string, config: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await writeFile(join(dir, 'eks-secret-sync.yaml'), config);
  return dir;
}

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

/** What a CLI child process ended with. */
export interface CliExit extends Captured {
  code: number;
}

const BIN = join(import.meta.dirname, '../../bin/eks-secret-sync.mjs');

/**
 * Runs the `eks-secret-sync` command as a child process in `cwd`, without EKS_SYNC_CONFIG (so `--config` is what
 * counts); everything it prints is also pushed to `seen`, for the leak checks.
 */
export function cliChild(cwd: string, seen: string[]): (args: string[]) => Promise<CliExit> {
  return (args) => {
    const env = { ...process.env };
    delete env.EKS_SYNC_CONFIG;
    return new Promise((resolve) => {
      execFile(process.execPath, [BIN, ...args], { env, cwd, timeout: 60_000 }, (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        seen.push(stdout, stderr);
        resolve({ code, stdout, stderr });
      });
    });
  };
}
