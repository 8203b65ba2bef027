import { defineConfig } from 'vitest/config';

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
