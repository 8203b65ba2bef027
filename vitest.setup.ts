// Runs before every test file of every package (vitest.base.ts): folders made with tempDir() from
// @d2v/core/testing are deleted when the file's tests are done, so test runs leave no d2v-* folders
// in the system temp dir (.ci/run checks that). It loads only that small module (anything more would
// be loaded before a test file's vi.mock() calls could reach it), found through @d2v/core's
// package.json so that this file works in any workspace that links @d2v/core (the generator's tests
// copy it into one).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';

const core = dirname(createRequire(import.meta.url).resolve('@d2v/core/package.json'));
const { removeTempDirs } = (await import(join(core, 'src', 'tempDirs.ts'))) as { removeTempDirs: () => number };

afterAll(() => {
  removeTempDirs();
});
