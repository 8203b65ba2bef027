/**
 * Crash-safe writes: data goes to a temporary sibling, is fsynced, then
 * renamed over the target, so readers see the old file or the new one, never
 * a torn one.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let counter = 0;
const tempName = (path: string) => join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${counter++}`);

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename itself is still atomic.
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempName(path);
  const fd = openSync(tmp, 'w');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/** Temporary folders of writeDirAtomic start with this prefix; readers skip them. */
export const TEMP_DIR_PREFIX = '.tmp-';

/**
 * Builds a whole folder under a temporary name, then renames it into place.
 * An existing folder at `finalDir` is moved aside first and removed after.
 */
export async function writeDirAtomic(finalDir: string, fill: (tmpDir: string) => Promise<void> | void): Promise<void> {
  const parent = dirname(finalDir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `${TEMP_DIR_PREFIX}${basename(finalDir)}-${process.pid}-${counter++}`);
  mkdirSync(tmp);
  try {
    await fill(tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  fsyncDir(tmp);
  let old: string | undefined;
  if (existsSync(finalDir)) {
    old = join(parent, `${TEMP_DIR_PREFIX}old-${basename(finalDir)}-${process.pid}-${counter++}`);
    renameSync(finalDir, old);
  }
  renameSync(tmp, finalDir);
  fsyncDir(parent);
  if (old) rmSync(old, { recursive: true, force: true });
}
