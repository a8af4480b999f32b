/**
 * vitest setup file: what the code under test writes straight to process.stdout/stderr (the Powertools logger and
 * metrics print their JSON lines through their own `Console` on those streams, not through vitest's console) is held
 * per test and printed only when that test fails, so a green run is not hundreds of log lines.
 * `EKS_SYNC_TEST_OUTPUT=all` passes everything through as it is written. `recordOutput()` (./lambda.ts) taps the
 * streams above this layer, so the leak checks that read the logs still see every line.
 */
import { afterAll, beforeEach, onTestFinished } from 'vitest';

type Write = typeof process.stdout.write;
interface Held {
  chunks: string[];
  real: { stdout: Write; stderr: Write };
}

// One interceptor per process, shared by every test file that runs in it.
const KEY = Symbol.for('eks-secret-sync.held-output');
const g = globalThis as { [KEY]?: Held };

function install(): Held {
  const held: Held = {
    chunks: [],
    real: { stdout: process.stdout.write.bind(process.stdout), stderr: process.stderr.write.bind(process.stderr) },
  };
  for (const to of ['stdout', 'stderr'] as const) {
    process[to].write = ((chunk: unknown, ...rest: unknown[]): boolean => {
      held.chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
      // A caller waiting for the write's callback gets it as if the stream had taken the chunk.
      const done = rest.find((r): r is () => void => typeof r === 'function');
      if (done) queueMicrotask(done);
      return true;
    }) as Write;
  }
  return held;
}

// All on stdout, in the order it was written (two streams would interleave unpredictably).
function release(held: Held, title: string): void {
  const text = held.chunks.join('');
  const lines = text.match(/\n/g)?.length ?? 0;
  held.real.stdout(`\n--- output of ${title} (${lines} lines) ---\n${text}--- end of output of ${title} ---\n`);
  held.chunks = [];
}

if (process.env.EKS_SYNC_TEST_OUTPUT !== 'all') {
  g[KEY] ??= install();
  const held = g[KEY];

  beforeEach(() => {
    onTestFinished(({ task }) => {
      if (task.result?.state === 'fail') release(held, `the failed test "${task.fullName ?? task.name}"`);
      else held.chunks = [];
    });
  });

  // Output of hooks outside tests (beforeAll, afterAll) is kept when something in the file failed.
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a hook's first parameter as fixtures and wants a pattern
  afterAll(({}, suite) => {
    const failed =
      suite.result?.state === 'fail' ||
      (suite.result?.errors?.length ?? 0) > 0 ||
      suite.tasks.some((t) => t.result?.state === 'fail');
    if (failed && held.chunks.length > 0) release(held, `the hooks of ${suite.name}`);
    held.chunks = [];
  });
}
