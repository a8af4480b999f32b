/**
 * `import`: reads manifests from files, directories and stdin, maps them (lib/import), checks the result with the
 * real loader, writes it. Exit 0 complete, 1 something left out, 2 bad input.
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { loadKubeConfig } from '../clusters/kubeconfig.js';
import { checkConfig } from '../config/index.js';
import { InputError } from '../errors.js';
import { findingLine, importManifests, type Manifest, parseManifests, renderConfig } from '../import/index.js';
import { listEsoObjects } from '../kube/eso-objects.js';
import { type RunArgs, UsageError } from './args.js';
import type { CliIO } from './run.js';

const CLUSTER = /^([A-Za-z0-9][A-Za-z0-9_.-]*)(?:@([a-z]{2}(?:-[a-z]+)+-\d))?$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const MANIFEST_FILE = /\.(ya?ml|json)$/;

/** `--cluster NAME` or `NAME@REGION`. */
function parseClusters(values: readonly string[]): Array<{ name: string; region?: string }> {
  const clusters = values.map((value) => {
    const match = CLUSTER.exec(value);
    if (match === null) {
      throw new UsageError(`--cluster "${value}" is not NAME or NAME@REGION (e.g. prod-eu or prod-eu@eu-west-1)`);
    }
    return { name: match[1] as string, ...(match[2] === undefined ? {} : { region: match[2] }) };
  });
  const names = clusters.map((c) => c.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new UsageError(`--cluster "${twice}" is given twice`);
  return clusters;
}

/** The manifest files of a directory, recursively, in a stable order (sorted paths). */
async function manifestFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && MANIFEST_FILE.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

function readError(path: string, error: unknown): InputError {
  const code = (error as NodeJS.ErrnoException).code ?? 'read error';
  return new InputError('InvalidInput', `cannot read "${path}" (${code})`, { cause: error });
}

/** Every manifest of the inputs, in the order given (directories in sorted order); places use the paths as given. */
async function readInputs(inputs: readonly string[], io: CliIO): Promise<Manifest[]> {
  const manifests: Manifest[] = [];
  if (inputs.filter((i) => i === '-').length > 1) throw new UsageError('"-" (stdin) can be given once');
  for (const input of inputs) {
    if (input === '-') {
      if (io.stdin === undefined) throw new UsageError('no standard input to read manifests from');
      manifests.push(...parseManifests(await io.stdin(), 'stdin'));
      continue;
    }
    const absolute = isAbsolute(input) ? input : join(io.cwd, input);
    let files: string[];
    try {
      files = (await stat(absolute)).isDirectory() ? await manifestFiles(absolute) : [absolute];
    } catch (error) {
      throw readError(input, error);
    }
    for (const file of files) {
      const shown = file === absolute ? input : join(input, file.slice(absolute.length + 1));
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw readError(shown, error);
      }
      manifests.push(...parseManifests(text, shown));
    }
  }
  return manifests;
}

/**
 * The ESO objects of a kubeconfig context, as manifests placed `CTX:Kind/namespace/name`. The file is `--kubeconfig`,
 * else the first of $KUBECONFIG, else ~/.kube/config.
 */
async function readCluster(args: RunArgs, io: CliIO): Promise<Manifest[]> {
  const context = args.context as string;
  const path = args.kubeconfig ?? io.env.KUBECONFIG?.split(':')[0] ?? '~/.kube/config';
  let kc: ReturnType<typeof loadKubeConfig>;
  try {
    kc = loadKubeConfig({ path: isAbsolute(path) || path.startsWith('~') ? path : join(io.cwd, path), context });
  } catch (error) {
    throw new InputError('InvalidInput', error instanceof Error ? error.message : 'invalid kubeconfig', {
      cause: error,
    });
  }
  const objects = await listEsoObjects(kc, context, args.namespaces?.[0]);
  return objects.map((o) => ({
    where: `${context}:${o.kind}/${o.namespace === undefined ? '' : `${o.namespace}/`}${o.name}`,
    body: o.body,
  }));
}

/** Writes next to the target and renames over it, so that a failed write leaves no half-written file. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${randomUUID()}.tmp`;
  await writeFile(temporary, text, 'utf8');
  await rename(temporary, path);
}

/** Runs `import`; never prints a value from the manifests (findings carry places, names and keys only). */
export async function runImport(args: RunArgs, io: CliIO): Promise<number> {
  const clusters = parseClusters(args.clusters ?? []);
  if ((args.namespaces?.length ?? 0) > 1) throw new UsageError('"import" takes one --namespace');
  if (args.region !== undefined && !REGION.test(args.region)) {
    throw new UsageError(`--region "${args.region}" is not an AWS region such as eu-west-1`);
  }
  const manifests = await readInputs(args.inputs ?? [], io);
  if (args.context !== undefined) manifests.push(...(await readCluster(args, io)));
  const namespace = args.namespaces?.[0];
  const result = importManifests(manifests, {
    clusters,
    ...(args.region === undefined ? {} : { region: args.region }),
    ...(namespace === undefined ? {} : { namespace }),
    ...(args.adopt === true ? { adopt: true } : {}),
  });
  const yaml = result.config === undefined ? undefined : renderConfig(result);
  // The real loader: what validate would say of the file.
  const issues = yaml === undefined ? [] : checkConfig(yaml, args.output ?? 'the imported configuration').issues;
  const written = yaml !== undefined && issues.length === 0;
  if (written && args.output !== undefined) {
    const path = isAbsolute(args.output) ? args.output : join(io.cwd, args.output);
    await writeAtomically(path, yaml);
  }

  const complete = result.leftOut.length === 0 && written;
  if (args.json) {
    io.stdout(
      `${JSON.stringify(
        {
          complete,
          region: result.region,
          syncs: result.syncs.map((s) => s.from),
          leftOut: result.leftOut,
          notes: result.notes,
          otherDocuments: result.otherDocuments,
          ...(issues.length > 0 ? { invalid: issues } : {}),
          ...(written ? (args.output === undefined ? { config: yaml } : { output: args.output }) : {}),
        },
        null,
        2,
      )}\n`,
    );
  } else if (written && args.output === undefined) {
    io.stdout(yaml);
  }
  if (!args.json) io.stderr(summary(result, issues, written ? args.output : undefined));
  return complete ? 0 : 1;
}

function summary(result: ReturnType<typeof importManifests>, issues: string[], output: string | undefined): string {
  const lines: string[] = [];
  if (result.leftOut.length > 0) {
    lines.push(`left out (${result.leftOut.length}):`, ...result.leftOut.map((f) => `  ${findingLine(f)}`));
  }
  if (result.notes.length > 0)
    lines.push(`notes (${result.notes.length}):`, ...result.notes.map((f) => `  ${findingLine(f)}`));
  if (issues.length > 0) {
    lines.push('the imported configuration does not validate:', ...issues.map((i) => `  ${i}`));
  }
  const other = result.otherDocuments === 0 ? '' : `, ${result.otherDocuments} document(s) of other kinds skipped`;
  lines.push(
    result.config === undefined
      ? `nothing could be imported${other}`
      : `imported ${result.syncs.length} sync(s) for Secrets Manager in ${result.region}${output === undefined ? '' : ` into ${output}`}` +
          `${issues.length > 0 ? ', not written (invalid)' : result.leftOut.length === 0 ? ', complete' : `, ${result.leftOut.length} left out`}${other}`,
  );
  return `${lines.join('\n')}\n`;
}
