/**
 * Crash-safe writes: content is built under a temporary sibling name,
 * fsynced, then renamed over the target, so readers see the old version or the
 * new one, never a torn one. Temporary names start with TEMP_PREFIX and carry
 * the writer's pid, so leftovers of a crashed process can be recognised.
 */
import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { asFileSystemError } from '../errors.js';

/** Temporary files and folders start with this prefix; readers skip them. */
export const TEMP_PREFIX = '.tmp-';
const TEMP_NAME = /^\.tmp-.*-(\d+)-\d+$/;

let counter = 0;
const tempSibling = (path: string, tag = '') => join(dirname(path), `${TEMP_PREFIX}${basename(path)}${tag}-${process.pid}-${counter++}`);

/** Errors of filesystems that cannot fsync a folder (or a read-only fd); the rename is still atomic there. */
const UNSYNCABLE = new Set(['EINVAL', 'EISDIR', 'EPERM', 'EBADF', 'ENOTSUP', 'EACCES']);

function fsyncPath(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if (UNSYNCABLE.has((err as NodeJS.ErrnoException).code ?? '')) return;
    throw err;
  }
  try {
    fsyncSync(fd);
  } catch (err) {
    if (!UNSYNCABLE.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    closeSync(fd);
  }
}

/** Flushes every file and folder under `dir` to disk: renaming only makes the name durable, not the content. */
function fsyncTree(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (lstatSync(p).isDirectory()) fsyncTree(p);
    else fsyncPath(p);
  }
  fsyncPath(dir);
}

/** Writes `data` to `path` atomically (creating parent folders). A failed write (e.g. ENOSPC) is a FileSystemError naming `path`. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = tempSibling(path);
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  try {
    mkdirSync(dirname(path), { recursive: true });
    try {
      const fd = openSync(tmp, 'w');
      try {
        let off = 0;
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    fsyncPath(dirname(path));
  } catch (err) {
    throw asFileSystemError(err, path);
  }
}

/**
 * Builds a whole folder with `fill(tmpDir)` under a temporary name, flushes
 * it, then renames it to `finalDir`. An existing `finalDir` is moved aside
 * first and deleted only once the new one is in place; if the swap fails the
 * old folder is put back.
 */
export async function writeDirAtomic(finalDir: string, fill: (tmpDir: string) => Promise<void> | void): Promise<void> {
  const parent = dirname(finalDir);
  try {
    mkdirSync(parent, { recursive: true });
  } catch (err) {
    throw asFileSystemError(err, parent);
  }
  const tmp = tempSibling(finalDir);
  try {
    mkdirSync(tmp);
  } catch (err) {
    throw asFileSystemError(err, tmp);
  }
  try {
    await fill(tmp);
    fsyncTree(tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw asFileSystemError(err, finalDir);
  }
  let old: string | undefined;
  try {
    if (existsSync(finalDir)) {
      old = tempSibling(finalDir, '.old');
      renameSync(finalDir, old);
    }
    renameSync(tmp, finalDir);
  } catch (err) {
    if (old && !existsSync(finalDir)) renameSync(old, finalDir);
    rmSync(tmp, { recursive: true, force: true });
    throw asFileSystemError(err, finalDir);
  }
  fsyncPath(parent);
  if (old) rmSync(old, { recursive: true, force: true });
}

const MOVED_ASIDE = /^\.tmp-(.+)\.old-(\d+)-\d+$/;

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Undoes a replacement by writeDirAtomic that a crash cut between its two
 * renames: the old folder was moved aside but the new one never took its
 * name. The old folder is complete (it had been committed), so it is put
 * back. Only folders of dead processes are touched. Returns the names restored.
 */
export function restoreInterruptedReplacements(parent: string): string[] {
  const restored: string[] = [];
  for (const name of readdirSync(parent)) {
    const m = MOVED_ASIDE.exec(name);
    if (!m) continue;
    const pid = Number(m[2]);
    const target = join(parent, m[1]!);
    if (pid === process.pid || processIsAlive(pid) || existsSync(target)) continue;
    renameSync(join(parent, name), target);
    restored.push(m[1]!);
  }
  return restored;
}

/** True for a temporary name made by this module in another process (e.g. one that crashed). */
export function isForeignTemp(name: string): boolean {
  const m = TEMP_NAME.exec(name);
  return m !== null && Number(m[1]) !== process.pid;
}

/**
 * Deletes the temporaries other processes left in `dir`. Only call this when
 * no other process writes to `dir` (one writer per run folder), and after
 * restoreInterruptedReplacements, which may still need some of them.
 */
export function removeForeignTemps(dir: string): string[] {
  const removed = readdirSync(dir).filter(isForeignTemp);
  for (const name of removed) rmSync(join(dir, name), { recursive: true, force: true });
  return removed;
}
