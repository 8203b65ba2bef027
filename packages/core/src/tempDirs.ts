/**
 * Temporary folders for tests (`tempDir` in @d2v/core/testing): made in the system temp dir and
 * deleted by removeTempDirs(), which the workspace's vitest setup runs after every test file.
 * Kept apart from testing.ts and free of other d2v imports so that the setup file loads nothing
 * else (a test file's vi.mock('node:fs') must still reach the modules it imports).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made = new Set<string>();

/** A fresh empty folder `d2v-<name>-XXXXXX` in the system temp dir, deleted after the test file. */
export function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `d2v-${name}-`));
  made.add(dir);
  return dir;
}

/** Deletes every folder tempDir() made in this process; returns how many. */
export function removeTempDirs(): number {
  const n = made.size;
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
  return n;
}
