/**
 * The `eks-secret-sync` command: argv -> request -> the same engine as the handlers -> table or JSON, exit code.
 * 0 every binding ok, 1 some binding failed (or the run stopped), 2 bad input.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import pkg from '../../package.json' with { type: 'json' };
import { type Config, checkConfigFile, loadConfigFile } from '../config/index.js';
import type { SyncRequest } from '../domain/request.js';
import { ConfigError, InputError, SyncError, toSyncError } from '../errors.js';
import { type IgnoredEvent, parseBackfillInput, reconcileRequest, rotationRequest } from '../events/index.js';
import type { ReleaseReport, ReleaseRequest, RunOptions, StatusReport, StatusRequest } from '../sync/engine.js';
import type { SyncReport } from '../sync/types.js';
import { parseCliArgs, type RunArgs, UsageError } from './args.js';
import { formatPlan } from './format.js';
import { helpText } from './help.js';
import { runImport } from './import.js';
import { formatRelease, formatStatus, statusFailed } from './status.js';
import { checkKubeconfigs, describeConfig } from './validate.js';
import { createCliEngine, type Progress } from './wiring.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Reads `--event -`. */
  stdin?: () => Promise<string>;
  /** Builds the engine; tests inject a fake. Default: AWS SDK + cluster connector (wiring.ts). */
  createEngine?: (
    config: Config,
    progress: Progress,
  ) => Promise<{
    run(request: SyncRequest, options?: RunOptions): Promise<SyncReport>;
    /** `status`; an engine without it (a test's) cannot run that command. */
    status?(request: StatusRequest, options?: RunOptions): Promise<StatusReport>;
    /** `release`; likewise. */
    release?(request: ReleaseRequest, options?: RunOptions): Promise<ReleaseReport>;
  }>;
  /** The clock `--timeout` counts from (tests inject one). */
  now?: () => number;
}

export const VERSION: string = pkg.version;

/** Runs one command line; never throws. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  let args: RunArgs;
  try {
    const parsed = parseCliArgs(argv);
    if (parsed.kind === 'help') {
      io.stdout(helpText(VERSION, parsed.command));
      return EXIT_OK;
    }
    if (parsed.kind === 'version') {
      io.stdout(`${VERSION}\n`);
      return EXIT_OK;
    }
    args = parsed;
  } catch (error) {
    const code = fail(io, error, false);
    io.stderr('Run "eks-secret-sync --help" for usage.\n');
    return code;
  }
  try {
    return await runCommand(args, io);
  } catch (error) {
    return fail(io, error, args.json);
  }
}

async function runCommand(args: RunArgs, io: CliIO): Promise<number> {
  if (args.command === 'import') return runImport(args, io);
  const path = resolveConfigPath(args, io);
  if (args.command === 'validate') return validate(path, args, io);
  const config = await loadConfigFile(path);
  if (args.command === 'status') return status(config, args, io);
  if (args.command === 'release') return release(config, args, io);

  const request = await buildRequest(args, io);
  if ('ignored' in request) {
    if (args.json) io.stdout(`${JSON.stringify(request, null, 2)}\n`);
    else io.stdout(`event ignored: ${request.ignored}${request.secretId ? ` (secret "${request.secretId}")` : ''}\n`);
    return EXIT_OK;
  }
  const progress = progressFor(args, io);
  const engine = await (io.createEngine ?? createCliEngine)(config, progress);
  const scope = request.secrets === undefined ? 'every configured secret' : `${request.secrets.length} secret(s)`;
  progress(
    `${request.trigger}${request.dryRun ? ' (dry run)' : ''}: ${scope}, ` +
      `${request.clusters?.length ?? Object.keys(config.clusters).length} cluster(s)...`,
  );
  // The engine's clock is the real one too: the deadline is on the same time line.
  const options: RunOptions =
    args.timeoutMs === undefined ? {} : { deadlineAt: (io.now ?? Date.now)() + args.timeoutMs };
  const report = await engine.run(request, options);
  io.stdout(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatPlan(report));
  // The handlers' rule: a failed binding or a failed source lookup (e.g. a selector's ListSecrets) fails the pass.
  const failed = report.summary.failed > 0 || report.sources.some((s) => s.error !== undefined);
  return failed ? EXIT_FAILED : EXIT_OK;
}

/** `status`: read only, so no request is built; the engine resolves and plans the filters as a backfill would. */
async function status(config: Config, args: RunArgs, io: CliIO): Promise<number> {
  const progress = progressFor(args, io);
  const engine = await (io.createEngine ?? createCliEngine)(config, progress);
  if (engine.status === undefined) throw new Error('this engine cannot report status');
  progress(
    `status: ${args.secrets === undefined ? 'every configured secret' : `${args.secrets.length} secret(s)`}, ` +
      `${args.clusters?.length ?? Object.keys(config.clusters).length} cluster(s)...`,
  );
  const options: RunOptions =
    args.timeoutMs === undefined ? {} : { deadlineAt: (io.now ?? Date.now)() + args.timeoutMs };
  const report = await engine.status(
    {
      ...(args.secrets === undefined ? {} : { secrets: args.secrets }),
      ...(args.clusters === undefined ? {} : { clusters: args.clusters }),
      ...(args.namespaces === undefined ? {} : { namespaces: args.namespaces }),
    },
    options,
  );
  io.stdout(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
  return statusFailed(report) ? EXIT_FAILED : EXIT_OK;
}

/** `release`: removes the holds of `--secret`'s waves; exit 1 when a Secret could not be read or patched. */
async function release(config: Config, args: RunArgs, io: CliIO): Promise<number> {
  const progress = progressFor(args, io);
  const engine = await (io.createEngine ?? createCliEngine)(config, progress);
  if (engine.release === undefined) throw new Error('this engine cannot release holds');
  const options: RunOptions =
    args.timeoutMs === undefined ? {} : { deadlineAt: (io.now ?? Date.now)() + args.timeoutMs };
  const report = await engine.release(
    {
      secrets: args.secrets ?? [],
      ...(args.clusters === undefined ? {} : { clusters: args.clusters }),
      ...(args.namespaces === undefined ? {} : { namespaces: args.namespaces }),
    },
    options,
  );
  io.stdout(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatRelease(report));
  return report.failed.length > 0 ? EXIT_FAILED : EXIT_OK;
}

/** Progress lines on stderr in the human mode; none with --json, whose stdout is the whole answer (errors still go to stderr). */
function progressFor(args: RunArgs, io: CliIO): Progress {
  return args.json ? () => {} : (line) => io.stderr(`${line}\n`);
}

function resolveConfigPath(args: RunArgs, io: CliIO): string {
  const path = args.config ?? io.env.EKS_SYNC_CONFIG ?? 'eks-secret-sync.yaml';
  return isAbsolute(path) ? path : join(io.cwd, path);
}

/** Every problem at once: the file's own, and the kubeconfig contexts of the clusters that are valid. */
async function validate(path: string, args: RunArgs, io: CliIO): Promise<number> {
  const checked = await checkConfigFile(path);
  const issues = [...checked.issues, ...checkKubeconfigs(checked.clusters)];
  const config = checked.config;
  if (issues.length > 0 || config === undefined) throw new ConfigError(issues);
  if (args.json) io.stdout(`${JSON.stringify({ valid: true, config: path }, null, 2)}\n`);
  else io.stdout(`${path}: valid: ${describeConfig(config)}\n`);
  return EXIT_OK;
}

async function buildRequest(args: RunArgs, io: CliIO): Promise<SyncRequest | IgnoredEvent> {
  const origin = `cli ${args.command}`;
  const filters = {
    ...(args.secrets === undefined ? {} : { secrets: args.secrets }),
    ...(args.clusters === undefined ? {} : { clusters: args.clusters }),
    ...(args.namespaces === undefined ? {} : { namespaces: args.namespaces }),
  };
  switch (args.command) {
    case 'plan':
      return Object.keys(filters).length === 0
        ? reconcileRequest({ dryRun: true, origin })
        : parseBackfillInput({ ...filters, dryRun: true }, { origin });
    case 'backfill':
      return parseBackfillInput({ ...filters, dryRun: args.dryRun, restart: args.restart }, { origin });
    case 'reconcile':
      return reconcileRequest({ dryRun: args.dryRun, origin });
    case 'sync': {
      const request = rotationRequest(await readEvent(args.event ?? '-', io));
      return 'ignored' in request ? request : { ...request, dryRun: args.dryRun, origin };
    }
    case 'status':
    case 'release':
    case 'validate':
    case 'import':
      throw new Error('unreachable');
  }
}

async function readEvent(file: string, io: CliIO): Promise<unknown> {
  let text: string;
  try {
    if (file === '-') {
      if (io.stdin === undefined) throw new UsageError('no standard input to read the event from');
      text = await io.stdin();
    } else {
      text = await readFile(isAbsolute(file) ? file : join(io.cwd, file), 'utf8');
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'read error';
    throw new UsageError(`cannot read event file "${file}" (${code})`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new InputError('InvalidEvent', `event file "${file}" is not valid JSON`);
  }
}

/** Prints the error (never a secret value: our messages carry names only) and picks the exit code. */
function fail(io: CliIO, error: unknown, json: boolean): number {
  const badInput = error instanceof UsageError || error instanceof InputError || error instanceof ConfigError;
  const code = error instanceof UsageError ? 'Usage' : toSyncError(error).code;
  const message =
    error instanceof UsageError || error instanceof SyncError ? error.message : toSyncError(error).message;
  const issues = error instanceof ConfigError ? error.issues : undefined;
  if (json) io.stdout(`${JSON.stringify({ error: { code, message, ...(issues ? { issues } : {}) } }, null, 2)}\n`);
  if (issues !== undefined) {
    io.stderr(`eks-secret-sync: invalid configuration:\n${issues.map((i) => `  ${i}`).join('\n')}\n`);
  } else {
    io.stderr(`eks-secret-sync: ${message}\n`);
  }
  return badInput ? EXIT_BAD_INPUT : EXIT_FAILED;
}
