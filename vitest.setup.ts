// Runs before every test file of every package (vitest.base.ts): folders made with tempDir() from
// @d2v/core/testing are deleted when the file's tests are done, so test runs leave no d2v-* folders
// in the system temp dir (.ci/run checks that). It imports only that small module: anything more
// would be loaded before a test file's vi.mock() calls could reach it.
import { afterAll } from 'vitest';
import { removeTempDirs } from './packages/core/src/tempDirs.js';

afterAll(() => {
  removeTempDirs();
});
