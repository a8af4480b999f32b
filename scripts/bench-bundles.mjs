#!/usr/bin/env node
/**
 * Bundle size and cold module-init time of each built function (run `npm run build` first).
 *
 * Init time = a fresh `node` process timing `await import(bundle)`: parse + evaluate + the handler's top-level
 * await (configuration load and validation), the part of a Lambda cold start that our code controls. Measured
 * with and without --enable-source-maps (Lambda runs with it, see serverless.yml), median of N processes.
 *
 *   npm run bench:bundles [-- --runs 15] [-- --json]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const config = join(root, 'examples', 'eks-secret-sync.yaml');
const functions = ['on-rotation', 'backfill', 'reconcile'];

function parseArgs(argv) {
  const options = { runs: 9, json: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--runs') options.runs = Number(argv[++i]);
    else if (argv[i] === '--json') options.json = true;
    else throw new Error(`unknown argument ${argv[i]} (use --runs N, --json)`);
  }
  if (!Number.isInteger(options.runs) || options.runs < 7) throw new Error('--runs must be an integer >= 7');
  return options;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** One fresh process: milliseconds spent in `await import(bundle)`. */
function importOnce(file, sourceMaps) {
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
    EKS_SYNC_CONFIG: config,
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

function kib(bytes) {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

function main() {
  const { runs, json } = parseArgs(process.argv.slice(2));
  const rows = [];
  for (const name of functions) {
    const file = join(dist, `${name}.mjs`);
    if (!existsSync(file)) throw new Error(`${file} not found: run "npm run build" first`);
    const code = readFileSync(file);
    const plain = [];
    const mapped = [];
    // Interleaved so that machine noise hits both variants alike.
    for (let i = 0; i < runs; i++) {
      plain.push(importOnce(file, false));
      mapped.push(importOnce(file, true));
    }
    rows.push({
      bundle: `dist/${name}.mjs`,
      bytes: code.length,
      gzipBytes: gzipSync(code).length,
      mapBytes: statSync(`${file}.map`).size,
      initMs: Math.round(median(plain) * 10) / 10,
      initWithSourceMapsMs: Math.round(median(mapped) * 10) / 10,
      runs,
    });
  }

  if (json) {
    console.log(JSON.stringify({ node: process.version, arch: process.arch, results: rows }, null, 2));
    return;
  }
  console.log(`node ${process.version} ${process.arch}; median of ${runs} fresh processes each`);
  console.log(
    `${'bundle'.padEnd(24)}${'size'.padStart(10)}${'gzip'.padStart(10)}${'map'.padStart(10)}${'init'.padStart(10)}${'init+maps'.padStart(12)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.bundle.padEnd(24)}${kib(r.bytes).padStart(10)}${kib(r.gzipBytes).padStart(10)}${kib(r.mapBytes).padStart(10)}${`${r.initMs} ms`.padStart(10)}${`${r.initWithSourceMapsMs} ms`.padStart(12)}`,
    );
  }
}

try {
  main();
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
