/** Entry point of the `eks-secret-sync` command (bundled to dist/cli.mjs). The only CLI file that touches process. */
import { text } from 'node:stream/consumers';
import { runCli } from './run.js';

const code = await runCli(process.argv.slice(2), {
  stdout: (chunk) => process.stdout.write(chunk),
  stderr: (chunk) => process.stderr.write(chunk),
  env: process.env,
  cwd: process.cwd(),
  stdin: () => text(process.stdin),
});
process.exitCode = code;
