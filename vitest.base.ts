import { defineConfig } from 'vitest/config';

/** Test settings shared by every package (each package's vitest.config.ts re-exports this). */
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // tfjs backends are process-global singletons: one worker per file keeps them isolated.
    pool: 'forks',
    fileParallelism: false,
  },
});
