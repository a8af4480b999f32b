/**
 * Bundle size and cold module-init time of each built function (dist/, built first when missing).
 *
 * Init time = a fresh `node` process timing `await import(bundle)`: parse + evaluate + the handler's top-level
 * await (configuration load and validation), the part of a Lambda cold start that our code controls. Measured
 * with and without --enable-source-maps (Lambda runs with it, see serverless.yml), median of N processes.
 * Also run alone by `npm run bench:bundles` (scripts/bench-bundles.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Column, Section } from '../section.js';

const root = join(import.meta.dirname, '..', '..');
const dist = join(root, 'dist');
const FUNCTIONS = ['on-rotation', 'backfill', 'reconcile'];

export interface BundleRow {
  bundle: string;
  bytes: number;
  gzipBytes: number;
  mapBytes: number;
  initMs: number;
  initWithSourceMapsMs: number;
  runs: number;
}

export interface Bundles {
  rows?: BundleRow[];
  /** dist/ was missing and built for the measurement. */
  built?: boolean;
  skipped?: string;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** One fresh process: milliseconds spent in `await import(bundle)`. */
function importOnce(file: string, sourceMaps: boolean): number {
  const script = [
    'const t0 = performance.now();',
    `await import(${JSON.stringify(pathToFileURL(file).href)});`,
    'process.stdout.write(String(performance.now() - t0));',
  ].join('\n');
  const args = [...(sourceMaps ? ['--enable-source-maps'] : []), '--input-type=module', '-e', script];
  // A minimal environment, as on Lambda: no credentials are needed to load (clients are lazy).
  const env = {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'eu-west-1',
    EKS_SYNC_CONFIG: join(root, 'examples', 'eks-secret-sync.yaml'),
    LAMBDA_TASK_ROOT: dist,
    POWERTOOLS_LOG_LEVEL: 'WARN',
  };
  const out = execFileSync(process.execPath, args, {
    env,
    cwd: dist,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return Number(out);
}

/** Size and median init time of every bundle in dist/ over `runs` fresh processes per variant (at least 7). */
export function measureBundles(runs: number): BundleRow[] {
  if (!Number.isInteger(runs) || runs < 7) throw new Error('--runs must be an integer >= 7');
  return FUNCTIONS.map((name) => {
    const file = join(dist, `${name}.mjs`);
    if (!existsSync(file)) throw new Error(`${file} not found: run "npm run build" first`);
    const code = readFileSync(file);
    const plain: number[] = [];
    const mapped: number[] = [];
    // Interleaved so that machine noise hits both variants alike.
    for (let i = 0; i < runs; i++) {
      plain.push(importOnce(file, false));
      mapped.push(importOnce(file, true));
    }
    return {
      bundle: `dist/${name}.mjs`,
      bytes: code.length,
      gzipBytes: gzipSync(code).length,
      mapBytes: statSync(`${file}.map`).size,
      initMs: Math.round(median(plain) * 10) / 10,
      initWithSourceMapsMs: Math.round(median(mapped) * 10) / 10,
      runs,
    };
  });
}

export const columns: Array<Column<BundleRow>> = [
  { header: 'bundle', cell: (x) => x.bundle },
  { header: 'KiB', cell: (x) => Math.round(x.bytes / 1024) },
  { header: 'gzip KiB', cell: (x) => Math.round(x.gzipBytes / 1024) },
  { header: 'init ms', cell: (x) => x.initMs },
  { header: 'init ms, source maps', cell: (x) => x.initWithSourceMapsMs },
];

/** The table title, with the number of runs behind each median. */
export const bundlesTitle = (rows: BundleRow[]) =>
  `Bundle cold-init (fresh node process, await import(bundle); median of ${rows[0]?.runs} runs)`;

export const bundles: Section<Bundles> = {
  key: 'bundles',
  title: () => 'bundle cold-init (as npm run bench:bundles)',
  async run() {
    try {
      const missing = FUNCTIONS.some((f) => !existsSync(join(dist, `${f}.mjs`)));
      if (missing) {
        execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs')], {
          cwd: root,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      }
      return { rows: measureBundles(7), built: missing };
    } catch (error) {
      const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
      return { skipped: `bundle cold-init failed: ${stderr.split('\n')[0] || (error as Error).message}` };
    }
  },
  tables: (result) =>
    result.rows
      ? [{ title: bundlesTitle(result.rows), columns, rows: result.rows }]
      : [`\nBundle cold-init skipped: ${result.skipped}`],
};
