/**
 * The local stack's description, `$EKS_SYNC_STACK_DIR/stack.json`: written by `scripts/stack.sh up`, printed by
 * `env --json`, read by the tests, the benchmark and the demo. The schema is the one home of its shape.
 *
 * Also a small CLI for scripts/stack.sh, which keeps supervising processes in bash but leaves JSON to this file:
 *   tsx scripts/stack/info.ts write FILE --stack-dir D --cluster NAME=URL ... (every flag of `writeArgs`)
 *   tsx scripts/stack/info.ts state FILE [--all]   one line for bash `read`: clusters etcd etcdPeer apiserver kcm
 *                                                  moto; with --all also scheduler kwok (`-` for a port the file
 *                                                  lacks). Without --all as before: older checkouts read this line.
 *   tsx scripts/stack/info.ts exports FILE   the `export` lines of `stack.sh env`
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';

const port = z.number().int().min(1).max(65_535);

export const stackInfoSchema = z.object({
  stackDir: z.string(),
  /** Admin kubeconfig (system:masters), one context per cluster. */
  kubeconfig: z.string(),
  /** Kubeconfig of the unprivileged `eks-secret-sync` identity, same context names. */
  syncKubeconfig: z.string(),
  caFile: z.string(),
  /** Directory holding the stack's kubectl. */
  kubectlDir: z.string(),
  /** Context (and cluster) names: `stack-1` .. `stack-N`. */
  clusters: z.array(z.string()).min(1),
  /** API server URL per cluster name. */
  servers: z.record(z.string(), z.string()),
  aws: z.object({ endpoint: z.string(), region: z.string(), accessKeyId: z.string(), secretAccessKey: z.string() }),
  /** `kwok` is missing in a stack.json written before kwok was a component (also in `ports`). */
  versions: z.object({ kubernetes: z.string(), etcd: z.string(), moto: z.string(), kwok: z.string().optional() }),
  /** The first port of each kind (API servers, controller-managers, schedulers and kwoks count upward per cluster). */
  ports: z.object({
    etcd: port,
    etcdPeer: port,
    apiserver: port,
    kcm: port,
    moto: port,
    scheduler: port.optional(),
    kwok: port.optional(),
  }),
  /**
   * The fake nodes every cluster has (kwok plays their kubelet: scheduled pods become Running and Ready), and the
   * pod label that makes kwok fail a pod instead (`never-ready`: Running, never Ready; `crash-loop`: CrashLoopBackOff).
   */
  kwok: z.object({ nodes: z.array(z.string()), failLabel: z.string() }).optional(),
  /** The variables `stack.sh env` exports (KUBECONFIG, EKS_SYNC_KUBECONFIG, AWS_ENDPOINT_URL, ...), PATH excepted. */
  env: z.record(z.string(), z.string()),
});

/** What `scripts/stack.sh env --json` prints (the content of `stack.json`). */
export type StackInfo = z.infer<typeof stackInfoSchema>;

const STACK_SCRIPT = join(import.meta.dirname, '..', 'stack.sh');

/** Parses a stack description; the error names the file and the first wrong field. */
export function parseStackInfo(text: string, source: string): StackInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON (${(e as Error).message}); run: npm run stack -- up`);
  }
  const parsed = stackInfoSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${source}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}; run: npm run stack -- up`);
  }
  return parsed.data;
}

/** The running stack's description, through `stack.sh env --json` (which also honours EKS_SYNC_STACK_DIR). */
export function readStackInfo(): StackInfo {
  const out = execFileSync('bash', [STACK_SCRIPT, 'env', '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return parseStackInfo(out, 'scripts/stack.sh env --json');
}

const writeArgs = {
  'stack-dir': { type: 'string' },
  kubeconfig: { type: 'string' },
  'sync-kubeconfig': { type: 'string' },
  'ca-file': { type: 'string' },
  'kubectl-dir': { type: 'string' },
  /** NAME=URL, once per cluster in order. */
  cluster: { type: 'string', multiple: true },
  region: { type: 'string' },
  'kubernetes-version': { type: 'string' },
  'etcd-version': { type: 'string' },
  'moto-version': { type: 'string' },
  'etcd-port': { type: 'string' },
  'etcd-peer-port': { type: 'string' },
  'apiserver-port': { type: 'string' },
  'kcm-port': { type: 'string' },
  'moto-port': { type: 'string' },
  'scheduler-port': { type: 'string' },
  'kwok-port': { type: 'string' },
  'kwok-version': { type: 'string' },
  /** Once per fake node, in order. */
  'kwok-node': { type: 'string', multiple: true },
  'kwok-fail-label': { type: 'string' },
} as const;

function describe(args: string[]): StackInfo {
  const { values: v } = parseArgs({ args, options: writeArgs, strict: true });
  const need = (name: keyof typeof writeArgs): string => {
    const value = v[name];
    if (typeof value !== 'string' || value === '') throw new Error(`info.ts write: --${name} is missing`);
    return value;
  };
  const clusters: string[] = [];
  const servers: Record<string, string> = {};
  for (const pair of v.cluster ?? []) {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`info.ts write: --cluster wants NAME=URL, got '${pair}'`);
    clusters.push(pair.slice(0, at));
    servers[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const endpoint = `http://127.0.0.1:${need('moto-port')}`;
  const region = need('region');
  const aws = { endpoint, region, accessKeyId: 'testing', secretAccessKey: 'testing' };
  return stackInfoSchema.parse({
    stackDir: need('stack-dir'),
    kubeconfig: need('kubeconfig'),
    syncKubeconfig: need('sync-kubeconfig'),
    caFile: need('ca-file'),
    kubectlDir: need('kubectl-dir'),
    clusters,
    servers,
    aws,
    versions: {
      kubernetes: need('kubernetes-version'),
      etcd: need('etcd-version'),
      moto: need('moto-version'),
      kwok: need('kwok-version'),
    },
    ports: {
      etcd: Number(need('etcd-port')),
      etcdPeer: Number(need('etcd-peer-port')),
      apiserver: Number(need('apiserver-port')),
      kcm: Number(need('kcm-port')),
      moto: Number(need('moto-port')),
      scheduler: Number(need('scheduler-port')),
      kwok: Number(need('kwok-port')),
    },
    kwok: { nodes: v['kwok-node'] ?? [], failLabel: need('kwok-fail-label') },
    env: {
      KUBECONFIG: need('kubeconfig'),
      EKS_SYNC_KUBECONFIG: need('sync-kubeconfig'),
      EKS_SYNC_STACK_CLUSTERS: clusters.join(','),
      EKS_SYNC_STACK_DIR: need('stack-dir'),
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: aws.accessKeyId,
      AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
    },
  });
}

const shQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

function cli([command, file, ...rest]: string[]): void {
  if (!file) throw new Error('usage: info.ts write|state|exports FILE [...]');
  if (command === 'write') {
    // Replaced in one step: a reader never sees half a file.
    writeFileSync(`${file}.tmp`, `${JSON.stringify(describe(rest), null, 2)}\n`);
    renameSync(`${file}.tmp`, file);
    return;
  }
  const info = parseStackInfo(readFileSync(file, 'utf8'), file);
  if (command === 'state') {
    const p = info.ports;
    const fields: Array<number | undefined> = [info.clusters.length, p.etcd, p.etcdPeer, p.apiserver, p.kcm, p.moto];
    if (rest.includes('--all')) fields.push(p.scheduler, p.kwok);
    console.log(fields.map((f) => f ?? '-').join(' '));
  } else if (command === 'exports') {
    for (const [name, value] of Object.entries(info.env)) console.log(`export ${name}=${shQuote(value)}`);
    console.log(`export PATH=${shQuote(info.kubectlDir)}:"$PATH"`);
  } else {
    throw new Error(`info.ts: unknown command '${command}'`);
  }
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  try {
    cli(process.argv.slice(2));
  } catch (e) {
    console.error(`stack: error: ${(e as Error).message}`);
    process.exit(1);
  }
}
