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
// Idle keep-alive sockets of the AWS SDK and Kubernetes clients would hold the process for seconds after the work is
// done; exit once what was written has been flushed.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
