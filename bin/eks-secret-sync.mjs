#!/usr/bin/env node
// Runs the CLI from source (development, tests): bundles lib/cli/main.ts with esbuild into node_modules/.cache and
// imports it. The published command is dist/cli.mjs, built by `npm run build`.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Inside the repository, so that the external packages resolve from its node_modules.
const outdir = join(root, 'node_modules', '.cache', 'eks-secret-sync');
const outfile = join(outdir, 'cli.mjs');
const { outputFiles } = await build({
  entryPoints: [join(root, 'lib', 'cli', 'main.ts')],
  outfile,
  write: false,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node22',
  logLevel: 'warning',
});
await mkdir(outdir, { recursive: true });
// Write then rename: concurrent runs each replace the file atomically, never leaving a half-written one. The CLI
// exits the process itself, so there is nothing to clean up afterwards.
const temporary = `${outfile}.${process.pid}.tmp`;
await writeFile(temporary, outputFiles[0].contents);
await rename(temporary, outfile);
await import(pathToFileURL(outfile).href);
