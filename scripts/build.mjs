#!/usr/bin/env node
/**
 * Bundles each Lambda entry point to dist/<name>.mjs (and the CLI to dist/cli.mjs when lib/cli/main.ts exists).
 * We bundle ourselves so the same artifact deploys with osls or Serverless v4 (`build: { esbuild: false }`).
 */
import { existsSync } from 'node:fs';
import { chmod, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { slimDependencies } from './bundle/slim.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist');

/** Lambda handlers: `dist/<name>.handler` in serverless.yml. */
const functions = ['on-rotation', 'backfill', 'reconcile', 'continue-waves', 'work-item'];

// Some bundled CommonJS dependencies still call require() (and __dirname) at run time; an ESM bundle has neither.
const requireShim = [
  "import { createRequire as __esmCreateRequire } from 'node:module';",
  "import { fileURLToPath as __esmFileURLToPath } from 'node:url';",
  "import { dirname as __esmDirname } from 'node:path';",
  'const require = __esmCreateRequire(import.meta.url);',
  'const __filename = __esmFileURLToPath(import.meta.url);',
  'const __dirname = __esmDirname(__filename);',
].join('\n');

/** @type {import('esbuild').BuildOptions} */
const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  // The handlers await their configuration at module scope: top-level await needs ESM and a modern target.
  target: 'node24',
  minify: true,
  sourcemap: true,
  // Keep names so stack traces (with --enable-source-maps) and error class names stay readable.
  keepNames: true,
  legalComments: 'none',
  mainFields: ['module', 'main'],
  logLevel: 'warning',
  metafile: true,
  // What a pass never loads stays out (scripts/bundle/slim.mjs).
  ...slimDependencies,
};

/** Bytes as "1.23 MiB" / "456.7 KiB". */
function formatSize(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

async function main() {
  await rm(outdir, { recursive: true, force: true });

  const entries = functions.map((name) => ({
    name,
    entry: join(root, 'functions', `${name}.ts`),
    outfile: join(outdir, `${name}.mjs`),
    banner: requireShim,
  }));
  const cli = join(root, 'lib', 'cli', 'main.ts');
  if (existsSync(cli)) {
    entries.push({
      name: 'cli',
      entry: cli,
      outfile: join(outdir, 'cli.mjs'),
      banner: `#!/usr/bin/env node\n${requireShim}`,
    });
  } else {
    console.log('lib/cli/main.ts not found: skipping dist/cli.mjs');
  }

  await Promise.all(
    entries.map(({ entry, outfile, banner }) =>
      build({ ...common, entryPoints: [entry], outfile, banner: { js: banner } }),
    ),
  );

  if (entries.some((e) => e.name === 'cli')) await chmod(join(outdir, 'cli.mjs'), 0o755);

  // `serverless invoke local` (osls) loads handlers only as .js or .cjs; these shims import the real bundle.
  // Not packaged: serverless.yml ships dist/<name>.mjs only.
  await Promise.all(
    functions.map((name) =>
      writeFile(
        join(outdir, `${name}.cjs`),
        `// For \`serverless invoke local\` only (osls requires .js/.cjs handlers); Lambda runs ${name}.mjs.\n` +
          `exports.handler = async (event, context) => (await import('./${name}.mjs')).handler(event, context);\n`,
      ),
    ),
  );

  for (const { outfile } of entries) {
    const [code, map] = await Promise.all([stat(outfile), stat(`${outfile}.map`)]);
    console.log(
      `${relative(root, outfile).padEnd(24)} ${formatSize(code.size).padStart(10)}   (map ${formatSize(map.size)})`,
    );
  }
}

main().catch((error) => {
  // esbuild already printed the located errors; the summary line is enough here.
  console.error(`build failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  process.exitCode = 1;
});
