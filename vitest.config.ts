import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // bench/test: the bench package's tests (it is a workspace); they run
    // against the built root (vecforge's dist/) like the bench itself.
    include: ['test/**/*.test.ts', 'bench/test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Test files start worker pools of their own; on two cores, two files
    // at once keep pools from starving each other.
    maxWorkers: 2,
    pool: 'forks',
  },
});
