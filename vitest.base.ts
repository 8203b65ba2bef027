import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Test settings shared by every package (each package's vitest.config.ts re-exports this).
 * Tests run the TypeScript sources: the "@d2v/source" export condition resolves every @d2v/*
 * package to src/ instead of dist/ (listed with vite's default conditions, which it replaces).
 */
const conditions = ['@d2v/source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['test/**/*.test.ts'],
    // Deletes the temporary folders each test file made with tempDir() (@d2v/core/testing).
    setupFiles: [fileURLToPath(new URL('./vitest.setup.ts', import.meta.url))],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // tfjs backends are process-global singletons: one worker per file keeps them isolated.
    pool: 'forks',
    fileParallelism: false,
  },
});
