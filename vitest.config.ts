import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Each test file starts worker pools of its own; two cores run at most
    // two files at once so pools do not starve each other.
    maxWorkers: 2,
    pool: 'forks',
  },
});
