/**
 * Command line -> what to do. One table of commands and options is the source of truth for parsing and for
 * `--help`, so that every accepted option is documented.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

export type CommandName = 'plan' | 'sync' | 'backfill' | 'reconcile' | 'status' | 'release' | 'validate' | 'import';

export interface OptionSpec {
  name: string;
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** Placeholder shown in help, e.g. `FILE`. */
  value?: string;
  description: string;
}

export interface CommandSpec {
  name: CommandName;
  summary: string;
  /** Option names (from OPTIONS) besides the global ones. */
  options: string[];
  /** Option names the command cannot run without. */
  required?: string[];
  /** Placeholder of the operands the command takes (e.g. `PATH...`); commands without one take none. */
  operands?: string;
  /** An option that makes the operands optional (import reads a cluster with --context instead). */
  operandsOptionalWith?: string;
  details: string;
}

export const GLOBAL_OPTIONS: OptionSpec[] = [
  {
    name: 'config',
    type: 'string',
    value: 'FILE',
    description: 'configuration file (default: $EKS_SYNC_CONFIG, else ./eks-secret-sync.yaml)',
  },
  {
    name: 'json',
    type: 'boolean',
    description: 'print the report as JSON (the SyncReport the Lambda handlers return)',
  },
  {
    name: 'help',
    short: 'h',
    type: 'boolean',
    description: 'show help (for a command: eks-secret-sync COMMAND --help)',
  },
  { name: 'version', short: 'v', type: 'boolean', description: 'print the version' },
];

export const OPTIONS: OptionSpec[] = [
  {
    name: 'secret',
    type: 'string',
    multiple: true,
    value: 'ID',
    description: 'only this source secret (name or ARN); repeatable',
  },
  {
    name: 'cluster',
    type: 'string',
    multiple: true,
    value: 'NAME',
    description: 'only this configured cluster; repeatable (import: a cluster the manifests are for, NAME[@REGION])',
  },
  {
    name: 'namespace',
    type: 'string',
    multiple: true,
    value: 'NS',
    description: 'only this namespace; repeatable (import: the namespace of manifests that name none)',
  },
  { name: 'event', type: 'string', value: 'FILE', description: 'an EventBridge event (JSON file, "-" for stdin)' },
  { name: 'dry-run', type: 'boolean', description: 'report what would change; write and restart nothing' },
  { name: 'no-restart', type: 'boolean', description: 'write Secrets but restart no workload' },
  {
    name: 'timeout',
    type: 'string',
    value: 'DURATION',
    description: 'stop waiting after this long (e.g. 90s, 5m, 1m30s): unfinished bindings fail with DeadlineExceeded',
  },
  {
    name: 'region',
    type: 'string',
    value: 'REGION',
    description: 'the region the functions read Secrets Manager in (default: the one region of the stores)',
  },
  {
    name: 'output',
    type: 'string',
    short: 'o',
    value: 'FILE',
    description: 'write the configuration to FILE, not stdout',
  },
  { name: 'adopt', type: 'boolean', description: 'set adopt: true on every target (the cut-over, once ESO let go)' },
  {
    name: 'context',
    type: 'string',
    value: 'CTX',
    description: 'also read the ESO objects of this kubeconfig context (all namespaces, or --namespace)',
  },
  {
    name: 'kubeconfig',
    type: 'string',
    value: 'FILE',
    description: 'the kubeconfig file of --context (default: $KUBECONFIG, else ~/.kube/config)',
  },
];

export const COMMANDS: CommandSpec[] = [
  {
    name: 'plan',
    summary: 'show what would change (a dry run): per Secret the action, changed key names, workloads to restart',
    options: ['secret', 'cluster', 'namespace', 'timeout'],
    details:
      'Without filters: what "reconcile" would do (drift, stale consumers). With filters: what "backfill" would do.',
  },
  {
    name: 'sync',
    summary: 'handle one Secrets Manager event, as the on-rotation function does',
    options: ['event', 'dry-run', 'timeout'],
    required: ['event'],
    details: 'Events the function would ignore (AWSPENDING, custom labels, failed calls) are reported and exit 0.',
  },
  {
    name: 'backfill',
    summary: 'sync the given (default: all) configured secrets now, as the backfill function does',
    options: ['secret', 'cluster', 'namespace', 'no-restart', 'dry-run', 'timeout'],
    details: 'Consumers restart only when a Secret content changes; --no-restart leaves them for a later pass.',
  },
  {
    name: 'reconcile',
    summary:
      'full pass over the configuration, as the scheduled function does: repairs drift, restarts stale consumers',
    options: ['dry-run', 'timeout'],
    details: 'Selectors (namePrefix, tags) are resolved with ListSecrets; values are read with BatchGetSecretValue.',
  },
  {
    name: 'status',
    summary:
      'show per Secret the version in the cluster against AWSCURRENT, last sync and consumers; reads no secret value',
    options: ['secret', 'cluster', 'namespace', 'timeout'],
    details:
      'States: current, behind (Secret missing or at another version, or a consumer not restarted onto it), unreadable ' +
      '(the error code says why). Exit 1 when any binding is behind or unreadable, 0 when all are current.',
  },
  {
    name: 'release',
    summary: 'release the hold on a version after a failed wave, so that the next pass continues its waves',
    options: ['secret', 'cluster', 'namespace', 'timeout'],
    required: ['secret'],
    details:
      'Removes the hold annotation from the Secrets of the secret\'s waves (status lists them under "Held"); writes ' +
      'nothing else. The next pass (reconcile, backfill, a continuation) writes the version from wave 1 again. ' +
      'Exit 1 when a Secret could not be read or patched (its hold still holds).',
  },
  {
    name: 'validate',
    summary: 'check the configuration file (and the kubeconfig contexts it names) without calling AWS or clusters',
    options: [],
    details: 'Every problem is printed with its place in the file, e.g. syncs[0].targets[1].clusters[0].',
  },
  {
    name: 'import',
    summary: 'turn External Secrets Operator manifests (files, directories, "-" for stdin) into a configuration',
    options: ['cluster', 'region', 'namespace', 'output', 'adopt', 'context', 'kubeconfig'],
    required: ['cluster'],
    operands: 'PATH...',
    operandsOptionalWith: 'context',
    details:
      'Reads ExternalSecret, SecretStore and ClusterSecretStore manifests (AWS Secrets Manager only). What has no ' +
      "equivalent is listed with its place (file:document.path) on stderr and in the output's comments. " +
      'Exit 1 when anything was left out, 0 when the import is complete.',
  },
];

/** A command line that cannot be understood; exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface RunArgs {
  kind: 'run';
  command: CommandName;
  config?: string;
  json: boolean;
  secrets?: string[];
  clusters?: string[];
  namespaces?: string[];
  event?: string;
  dryRun: boolean;
  restart: boolean;
  /** `--timeout`: the pass deadline, in milliseconds from the start of the run. */
  timeoutMs?: number;
  /** `import`: the files and directories to read (`-` for stdin), and its options. */
  inputs?: string[];
  region?: string;
  output?: string;
  adopt?: boolean;
  context?: string;
  kubeconfig?: string;
}

export type CliArgs = { kind: 'help'; command?: CommandName } | { kind: 'version' } | RunArgs;

const ALL_OPTIONS = [...GLOBAL_OPTIONS, ...OPTIONS];

function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

function parserOptions(): NonNullable<ParseArgsConfig['options']> {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const o of ALL_OPTIONS) {
    options[o.name] = {
      type: o.type,
      ...(o.multiple === true ? { multiple: true } : {}),
      ...(o.short === undefined ? {} : { short: o.short }),
    };
  }
  return options;
}

/** Node's messages end with advice about `--`; the first sentence is the useful part. */
function parseArgsMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('. ')[0]?.replace(/\.$/, '') ?? message;
}

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
/** Units from the largest down: `1m30s`, never `30s1m` or `5m5m` (a unit repeated or out of order is a typo). */
const UNIT_ORDER = Object.keys(UNIT_MS);
/** Longest accepted `--timeout`: a day (a pass is minutes; a larger value is a typo). */
const MAX_TIMEOUT_MS = 24 * 3_600_000;

/** A duration such as `90s`, `5m`, `1m30s`, `500ms` or `45` (seconds) in milliseconds; UsageError otherwise. */
export function parseDuration(option: string, text: string): number {
  const trimmed = text.trim();
  const bare = /^\d+(\.\d+)?$/.test(trimmed) ? `${trimmed}s` : trimmed;
  const parts = [...bare.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  const ms = Math.round(
    parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * (UNIT_MS[unit as string] ?? 0), 0),
  );
  const order = parts.map(([, , unit]) => UNIT_ORDER.indexOf(unit as string));
  const descending = order.every((rank, i) => i === 0 || rank > (order[i - 1] as number));
  // Under 1 ms would round to 0: a deadline that has passed before the run starts.
  if (
    parts.length === 0 ||
    parts.map((p) => p[0]).join('') !== bare ||
    !descending ||
    !(ms >= 1) ||
    ms > MAX_TIMEOUT_MS
  ) {
    throw new UsageError(
      `--${option} "${text}" is not a duration between 1ms and 24h (e.g. 90s, 5m, 1m30s, 500ms; a bare number is seconds)`,
    );
  }
  return ms;
}

/** Parses argv (without `node` and the script). Throws UsageError. */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: parserOptions(), allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(parseArgsMessage(error));
  }
  const { values, positionals } = parsed;
  const [first, ...rest] = positionals;

  if (first === 'help') {
    const topic = rest[0];
    if (topic !== undefined && findCommand(topic) === undefined) throw new UsageError(`unknown command "${topic}"`);
    return topic === undefined ? { kind: 'help' } : { kind: 'help', command: topic as CommandName };
  }
  const spec = first === undefined ? undefined : findCommand(first);
  if (first !== undefined && spec === undefined) {
    throw new UsageError(`unknown command "${first}" (commands: ${COMMANDS.map((c) => c.name).join(', ')})`);
  }
  if (values.help === true) return spec === undefined ? { kind: 'help' } : { kind: 'help', command: spec.name };
  if (values.version === true) return { kind: 'version' };
  if (spec === undefined) throw new UsageError('missing command');
  if (rest.length > 0 && spec.operands === undefined) {
    throw new UsageError(`unexpected argument "${rest[0]}" for "${spec.name}"`);
  }
  const optional = spec.operandsOptionalWith !== undefined && values[spec.operandsOptionalWith] !== undefined;
  if (rest.length === 0 && spec.operands !== undefined && !optional) {
    const alternative = spec.operandsOptionalWith === undefined ? '' : ` or --${spec.operandsOptionalWith}`;
    throw new UsageError(`"${spec.name}" needs ${spec.operands}${alternative}`);
  }

  for (const name of Object.keys(values)) {
    if (GLOBAL_OPTIONS.some((o) => o.name === name) || spec.options.includes(name)) continue;
    throw new UsageError(`option --${name} does not apply to "${spec.name}"`);
  }
  for (const name of spec.required ?? []) {
    if (values[name] === undefined) throw new UsageError(`"${spec.name}" needs --${name}`);
  }

  const strings = (name: string): string[] | undefined => values[name] as string[] | undefined;
  const args: RunArgs = {
    kind: 'run',
    command: spec.name,
    json: values.json === true,
    dryRun: values['dry-run'] === true,
    restart: values['no-restart'] !== true,
  };
  if (typeof values.config === 'string') args.config = values.config;
  if (typeof values.event === 'string') args.event = values.event;
  const secrets = strings('secret');
  const clusters = strings('cluster');
  const namespaces = strings('namespace');
  if (secrets !== undefined) args.secrets = secrets;
  if (clusters !== undefined) args.clusters = clusters;
  if (namespaces !== undefined) args.namespaces = namespaces;
  if (typeof values.timeout === 'string') args.timeoutMs = parseDuration('timeout', values.timeout);
  if (spec.operands !== undefined) args.inputs = rest;
  if (typeof values.region === 'string') args.region = values.region;
  if (typeof values.output === 'string') args.output = values.output;
  if (values.adopt === true) args.adopt = true;
  if (typeof values.context === 'string') args.context = values.context;
  if (typeof values.kubeconfig === 'string') args.kubeconfig = values.kubeconfig;
  return args;
}
