/**
 * A child process holding one cold-started real `onRotation` handler, for crash-point tests: it loads the handler
 * (module scope builds the runtime from EKS_SYNC_CONFIG and the environment, as a Lambda cold start does), prints
 * `CHILD ready`, then handles the one event it reads as a JSON line on stdin and prints `CHILD done` or
 * `CHILD failed`. The parent may SIGKILL it at any moment: nothing here flushes or cleans up on the way out.
 * Run it bundled (esbuild, as Lambda runs the handler) with plain `node`: one process, so that a SIGKILL hits the
 * handler itself (the tsx CLI would add a parent process), and it starts in about a second.
 */
import { createInterface } from 'node:readline';
import { lambdaContext } from '../../scripts/lambda-context.js';

const { handler } = await import('../../functions/on-rotation.js');
process.stdout.write('CHILD ready\n');

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  try {
    await handler(JSON.parse(line) as unknown, lambdaContext('onRotation'));
    process.stdout.write('CHILD done\n');
  } catch (error) {
    // The code only: the report is in the handler's own log lines.
    process.stdout.write(`CHILD failed ${(error as { code?: string }).code ?? (error as Error).name}\n`);
    process.exitCode = 1;
  }
  break;
}
lines.close();
