/**
 * Bundle size and cold module-init time of each built function (run `npm run build` first); the measurement is
 * the benchmark's `bundles` section (bench/sections/bundles.ts).
 *
 *   npm run bench:bundles [-- --runs 15] [-- --json]
 */
import { parseArgs } from 'node:util';
import { formatTable } from '../bench/section.js';
import { bundlesTitle, columns, measureBundles } from '../bench/sections/bundles.js';

try {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '9' }, json: { type: 'boolean', default: false } },
  });
  const rows = measureBundles(Number(values.runs));
  if (values.json) {
    console.log(JSON.stringify({ node: process.version, arch: process.arch, results: rows }, null, 2));
  } else {
    console.log(`node ${process.version} ${process.arch}`);
    const withMaps = [
      ...columns,
      { header: 'map KiB', cell: (x: (typeof rows)[number]) => Math.round(x.mapBytes / 1024) },
    ];
    console.log(formatTable({ title: bundlesTitle(rows), columns: withMaps, rows }));
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
}
