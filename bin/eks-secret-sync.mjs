#!/usr/bin/env node
// Runs the CLI from source (development, tests): bundles lib/cli/main.ts with esbuild into node_modules/.cache and
// imports it. The published command is dist/cli.mjs, built by `npm run build`.
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Inside the repository, so that the external packages resolve from its node_modules; one file per process.
const outdir = join(root, 'node_modules', '.cache', 'eks-secret-sync');
const outfile = join(outdir, `cli-${process.pid}.mjs`);
await mkdir(outdir, { recursive: true });
await build({
  entryPoints: [join(root, 'lib', 'cli', 'main.ts')],
  outfile,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node22',
  logLevel: 'warning',
});
try {
  await import(pathToFileURL(outfile).href);
} finally {
  await rm(outfile, { force: true });
}
