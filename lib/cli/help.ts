/** `--help` text, generated from the command and option tables in args.ts. */
import { COMMANDS, type CommandName, GLOBAL_OPTIONS, OPTIONS, type OptionSpec } from './args.js';

const NAME = 'eks-secret-sync';

function optionUsage(o: OptionSpec): string {
  const flag = `--${o.name}${o.value === undefined ? '' : ` ${o.value}`}`;
  return o.short === undefined ? flag : `-${o.short}, ${flag}`;
}

function optionLines(options: OptionSpec[]): string[] {
  const width = Math.max(...options.map((o) => optionUsage(o).length));
  return options.map((o) => `  ${optionUsage(o).padEnd(width)}  ${o.description}`);
}

function commandUsage(name: CommandName): string {
  const spec = COMMANDS.find((c) => c.name === name);
  const parts = (spec?.options ?? []).map((n) => {
    const o = OPTIONS.find((x) => x.name === n) as OptionSpec;
    const flag = `--${o.name}${o.value === undefined ? '' : ` ${o.value}`}`;
    if (spec?.required?.includes(n)) return flag;
    return o.multiple === true ? `[${flag}]...` : `[${flag}]`;
  });
  const operands = spec?.operands === undefined ? [] : [spec.operands];
  const config = name === 'import' ? [] : ['[--config FILE]'];
  return [`${NAME} ${name}`, ...parts, ...operands, ...config, '[--json]'].join(' ');
}

const FOOTER = [
  'Exit codes: 0 every binding ok, 1 some binding failed, 2 bad input (usage, configuration, event, filters or',
  'manifests). For status 1 means some binding behind or unreadable; for import, something left out.',
  '',
  'AWS: your usual credentials and region (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...) read Secrets Manager',
  'and reach EKS clusters (DescribeCluster + token, assuming roleArn when configured); kubeconfig clusters use',
  'the file and context named in the configuration.',
  '',
  'Output: the table (or --json) on stdout. Progress on stderr, in the human mode only: each binding as it',
  'finishes and "3/5 clusters done" as clusters finish; with --json stderr carries errors only.',
];

/** The full help, or one command's. */
export function helpText(version: string, command?: CommandName): string {
  if (command !== undefined) {
    const spec = COMMANDS.find((c) => c.name === command);
    const own = OPTIONS.filter((o) => spec?.options.includes(o.name));
    return [
      `Usage: ${commandUsage(command)}`,
      '',
      `${spec?.summary ?? ''}.`,
      spec?.details ?? '',
      '',
      ...(own.length > 0 ? ['Options:', ...optionLines(own), ''] : []),
      'Global options:',
      ...optionLines(GLOBAL_OPTIONS),
      '',
      ...FOOTER,
      '',
    ].join('\n');
  }
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `${NAME} ${version}: AWS Secrets Manager -> Kubernetes Secrets in many clusters, restarting their consumers.`,
    '',
    `Usage: ${NAME} COMMAND [options]`,
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    ...COMMANDS.map((c) => `  ${commandUsage(c.name)}`),
    '',
    'Command options:',
    ...optionLines(OPTIONS),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    ...FOOTER,
    '',
    'Examples:',
    `  ${NAME} validate --config eks-secret-sync.yaml`,
    `  ${NAME} plan`,
    `  ${NAME} status --cluster prod-eu`,
    `  ${NAME} backfill --secret prod/payments/db --cluster prod-eu --dry-run`,
    `  ${NAME} sync --event events/secret-label-updated-awscurrent.json`,
    `  ${NAME} reconcile --json > report.json`,
    `  ${NAME} import manifests/ --cluster prod-eu --output eks-secret-sync.yaml`,
    '',
  ].join('\n');
}
