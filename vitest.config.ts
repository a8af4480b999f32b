import { configDefaults, defineConfig } from 'vitest/config';

// Output the code under test writes straight to stdout/stderr (handler logs) is printed only for failing tests.
const setupFiles = ['test/support/held-output.ts'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          setupFiles,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/integration/reliability/**'],
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles,
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // The local stack is shared; files run one at a time so restarts and counters stay attributable.
          fileParallelism: false,
        },
      },
      {
        // Faults, bad input, duplicates, load, leakage, security on the local stack: minutes, so CI runs it as its
        // own step (`npm run test:reliability`) rather than inside `npm test`.
        test: {
          name: 'reliability',
          include: ['test/integration/reliability/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          setupFiles,
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
