import { describe, it, expect, beforeAll, afterEach, vi } from 'vitest';
import { join, resolve } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';

/** Failures injected into node:fs for the code under test: return an error to throw it instead of the call. */
const hooks = vi.hoisted(() => ({
  fail: undefined as undefined | ((call: string, args: unknown[], openPaths: Map<number, string>) => Error | undefined),
  fsynced: [] as string[],
}));

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const openPaths = new Map<number, string>();
  const mocked: Record<string, unknown> = { ...real };
  for (const call of ['openSync', 'writeSync', 'writeFileSync', 'mkdirSync', 'fsyncSync'] as const) {
    mocked[call] = (...args: unknown[]) => {
      const err = hooks.fail?.(call, args, openPaths);
      if (err) throw err;
      if (call === 'fsyncSync') hooks.fsynced.push(openPaths.get(args[0] as number) ?? '?');
      const result = (real[call] as (...a: unknown[]) => unknown)(...args);
      if (call === 'openSync') openPaths.set(result as number, String(args[0]));
      return result;
    };
  }
  return { ...mocked, default: mocked };
});

const { initBackend, runCli, MetricsLog, EXIT } = await import('../src/index.js');
const { tempDir } = await import('../src/testing.js');

const TOY = resolve(__dirname, 'fixtures/toy-modality.ts');

/** A Node.js-style system error (a write to an open file has no path, like the real one). */
function sysError(code: string, syscall: string, path?: string): Error {
  return Object.assign(new Error(`${code}: simulated, ${syscall}${path ? ` '${path}'` : ''}`), { code, syscall, errno: -1, ...(path ? { path } : {}) });
}

async function d2v(...argv: string[]): Promise<{ code: number; err: string[] }> {
  const err: string[] = [];
  const [ol, oe] = [console.log, console.error];
  console.log = () => {};
  console.error = (...a: unknown[]) => err.push(a.join(' '));
  const exitCode = process.exitCode;
  try {
    return { code: await runCli(argv), err };
  } finally {
    console.log = ol;
    console.error = oe;
    process.exitCode = exitCode;
  }
}
/** The failure lines, without the log line of the run's start and the progress lines. */
const failureLines = (err: string[]) => err.filter((l) => l.startsWith('d2v: ') && !/^d2v: (pretrain toy|data2vec toy)/.test(l));

beforeAll(async () => {
  await initBackend('wasm');
});
afterEach(() => {
  hooks.fail = undefined;
});

describe('file-system failures: one line naming the file, exit 5', () => {
  it('a full disk while metrics are written (ENOSPC)', async () => {
    const out = join(tempDir('fs-full'), 'run');
    hooks.fail = (call, args, paths) => (call === 'writeSync' && paths.get(args[0] as number)?.endsWith('metrics.jsonl') ? sysError('ENOSPC', 'write') : undefined);
    const r = await d2v('pretrain', '--modality', TOY, '--out', out, '--steps', '3', '--train.logEvery', '1');
    expect(r.code).toBe(EXIT.io);
    expect(failureLines(r.err)).toEqual([
      `d2v: FileSystemError: ${join(out, 'metrics.jsonl')}: no space left on the device: free some space, or write the run elsewhere with --out (ENOSPC in write)`,
    ]);
  });

  it('a full disk while a checkpoint is written (ENOSPC): no checkpoint appears', async () => {
    const out = join(tempDir('fs-full'), 'run');
    hooks.fail = (call, args) => (call === 'writeFileSync' && String(args[0]).endsWith('student.safetensors') ? sysError('ENOSPC', 'write') : undefined);
    const r = await d2v('pretrain', '--modality', TOY, '--out', out, '--steps', '2');
    expect(r.code).toBe(EXIT.io);
    expect(failureLines(r.err)).toEqual([
      `d2v: FileSystemError: ${join(out, 'checkpoints', 'step-00000002')}: no space left on the device: free some space, or write the run elsewhere with --out (ENOSPC in write)`,
    ]);
    // Nothing half-written is left: not the checkpoint, not its temporary folder.
    expect(readdirSync(join(out, 'checkpoints'))).toEqual([]);
  });

  it('a read-only --out folder (EACCES)', async () => {
    const ro = tempDir('fs-ro');
    hooks.fail = (call, args) => {
      const path = String(args[0]);
      if (call === 'openSync' && path.startsWith(`${ro}/`) && args[1] !== 'r') return sysError('EACCES', 'open', path);
      if (call === 'mkdirSync' && path.startsWith(`${ro}/`)) return sysError('EACCES', 'mkdir', path);
      return undefined;
    };
    const r = await d2v('pretrain', '--modality', TOY, '--out', ro, '--steps', '2');
    expect(r.code).toBe(EXIT.io);
    expect(failureLines(r.err)).toEqual([`d2v: FileSystemError: ${join(ro, 'config.json')}: permission denied: fix the permissions, or write the run elsewhere with --out (EACCES in open)`]);
    const below = await d2v('pretrain', '--modality', TOY, '--out', join(ro, 'sub', 'run'), '--steps', '2');
    expect(failureLines(below.err)).toEqual([`d2v: FileSystemError: ${join(ro, 'sub', 'run')}: permission denied: fix the permissions, or write the run elsewhere with --out (EACCES in mkdir)`]);
  });
});

describe('metrics.jsonl rewrites', () => {
  it('are flushed to disk like checkpoints (fsync of the new file and of the folder)', () => {
    const dir = tempDir('fs-metrics');
    const log = new MetricsLog(dir);
    for (let step = 1; step <= 4; step++) log.log({ step, loss: 1 / step });
    hooks.fsynced.length = 0;
    expect(log.truncateAfter(2)).toBe(2);
    log.close();
    expect(hooks.fsynced.some((p) => p.includes('metrics.jsonl'))).toBe(true);
    expect(hooks.fsynced).toContain(dir);
    expect(readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
  });
});
