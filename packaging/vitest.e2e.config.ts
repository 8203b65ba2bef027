import { defineConfig } from 'vitest/config';
import base from '../vitest.base.js';

/** The install-and-run check of the tarballs: minutes, so its own Nx target (`packaging:e2e`), run by .ci/run after the tests. */
export default defineConfig({
  ...base,
  test: { ...base.test, include: ['e2e/**/*.e2e.ts'], testTimeout: 600_000, hookTimeout: 900_000 },
});
