import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/backend/index.js';
import { CheckpointError, ConfigError } from '../src/errors.js';
import { Rng } from '../src/util/rng.js';
import { CheckpointManager, diffConfig, writeDirAtomic, writeFileAtomic, CHECKPOINT_FORMAT } from '../src/io/index.js';
import type { TensorGroups } from '../src/io/index.js';
import { tempDir } from '../src/testing.js';

const tmp = () => tempDir('ckpt');
const disposeGroups = (g: TensorGroups) => Object.values(g).forEach((t) => tf.dispose(Object.values(t)));

/** Small groups whose values depend on `v`, with every stored dtype, an empty and a scalar tensor. */
const groupsFor = (v: number): TensorGroups => ({
  student: { 'encoder.w': tf.fill([2, 3], v), 'encoder.b': tf.zeros([0]), scale: tf.scalar(v * 0.5) },
  teacher: { 'encoder.w': tf.fill([2, 3], v + 0.25) },
  optimizer: { 'm.encoder.w': tf.fill([2, 3], -v), count: tf.scalar(v, 'int32') },
  masks: { keep: tf.tensor1d([true, false, v % 2 === 1], 'bool') },
});
const config = { modality: 'toy', model: { depth: 2, dim: 8, layers: [{ k: 1 }] }, train: { steps: 10, lr: 0.001 }, out: 'runs/a', resume: false };

/** Saves step `step` and frees the tensors it was given. */
async function saveStep(m: CheckpointManager, step: number, state: Record<string, unknown> = {}): Promise<string> {
  const groups = groupsFor(step);
  try {
    return await m.save({ step, groups, state, config });
  } finally {
    disposeGroups(groups);
  }
}

/** The error `p` rejects with, which must be a CheckpointError. */
async function rejection(p: Promise<unknown>): Promise<CheckpointError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CheckpointError);
  return err as CheckpointError;
}

/** The pid of a process that has already exited: what a crashed writer leaves in temp names. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

beforeAll(async () => {
  await initBackend('wasm');
});

describe('CheckpointManager save/load', () => {
  it('round-trips groups, state and config and writes a manifest of every file', async () => {
    const run = tmp();
    const m = new CheckpointManager(run, { keepLast: 3 });
    const rng = new Rng(7);
    rng.uniform();
    const groups = groupsFor(3);
    const before = tf.memory().numTensors;
    const dir = await m.save({ step: 3, groups, state: { rng: rng.state(), trainer: { bestLoss: 0.5, history: [1, 2] } }, config });
    expect(tf.memory().numTensors).toBe(before);
    expect(dir).toBe(join(run, 'checkpoints', 'step-00000003'));

    const files = readdirSync(dir).sort();
    expect(files).toEqual(['config.json', 'manifest.json', 'masks.safetensors', 'optimizer.safetensors', 'state.json', 'student.safetensors', 'teacher.safetensors']);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.format).toBe(CHECKPOINT_FORMAT);
    expect(manifest.step).toBe(3);
    expect(Math.abs(Date.parse(manifest.created) - Date.now())).toBeLessThan(60_000);
    expect(Object.keys(manifest.files).sort()).toEqual(files.filter((f) => f !== 'manifest.json'));
    for (const [f, entry] of Object.entries(manifest.files as Record<string, { sha256: string; bytes: number }>)) {
      const bytes = readFileSync(join(dir, f));
      expect(entry).toEqual({ sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length });
    }
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual(config);

    const loaded = await m.load();
    expect(loaded.dir).toBe(dir);
    expect(loaded.step).toBe(3);
    expect(loaded.config).toEqual(config);
    expect(loaded.state['step']).toBe(3);
    expect(loaded.state['trainer']).toEqual({ bestLoss: 0.5, history: [1, 2] });
    const resumed = new Rng(0);
    resumed.setState(loaded.state['rng'] as [number, number, number, number]);
    expect(resumed.uniform()).toBe(rng.uniform());
    expect(Object.keys(loaded.groups).sort()).toEqual(['masks', 'optimizer', 'student', 'teacher']);
    for (const [g, tensors] of Object.entries(groups)) {
      expect(Object.keys(loaded.groups[g]!).sort()).toEqual(Object.keys(tensors).sort());
      for (const [k, t] of Object.entries(tensors)) {
        const back = loaded.groups[g]![k]!;
        expect(back.dtype).toBe(t.dtype);
        expect(back.shape).toEqual(t.shape);
        expect([...back.dataSync()]).toEqual([...t.dataSync()]);
      }
    }
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
    loaded.dispose(); // twice is harmless
    disposeGroups(groups);
  });

  it('keeps the last keepLast checkpoints, never the just-written one, and moves latest', async () => {
    const run = tmp();
    const m = new CheckpointManager(run, { keepLast: 2 });
    expect(m.list()).toEqual([]);
    expect(m.latestDir()).toBeUndefined();
    const latest = () => readFileSync(join(run, 'checkpoints', 'latest'), 'utf8');
    for (const s of [10, 20, 30, 40]) {
      await saveStep(m, s);
      expect(latest()).toBe(`step-000000${s}\n`);
    }
    expect(m.list().map((c) => c.step)).toEqual([30, 40]);
    expect(m.latestDir()).toBe(join(run, 'checkpoints', 'step-00000040'));
    // Saving an older step (a restarted timeline) keeps it and the newest other one, and latest follows it.
    await saveStep(m, 5);
    expect(m.list().map((c) => c.step)).toEqual([5, 40]);
    expect(m.latestDir()).toBe(join(run, 'checkpoints', 'step-00000005'));
    // Saving an existing step replaces it whole.
    const groups = { student: { w: tf.scalar(99) } };
    await m.save({ step: 5, groups, state: {}, config });
    tf.dispose(groups.student.w);
    const c = await m.load();
    expect(Object.keys(c.groups)).toEqual(['student']);
    expect(c.groups['student']!['w']!.dataSync()[0]).toBe(99);
    c.dispose();
    expect(readdirSync(join(run, 'checkpoints')).sort()).toEqual(['latest', 'step-00000005', 'step-00000040']);

    const one = new CheckpointManager(tmp(), { keepLast: 1 });
    for (const s of [1, 2, 3]) await saveStep(one, s);
    expect(one.list().map((x) => x.step)).toEqual([3]);
  });

  it('ignores the leftovers of a crashed save and clears them on the next save', async () => {
    const run = tmp();
    const m = new CheckpointManager(run, { keepLast: 3 });
    await saveStep(m, 4);
    const ck = join(run, 'checkpoints');
    // A save of step 5 killed mid-way: a half-written temp folder, a pointer already naming step 5
    // (as if written by a different tool), a stale temp pointer file and a step folder without manifest.
    const pid = deadPid();
    const leftover = join(ck, `.tmp-step-00000005-${pid}-0`);
    mkdirSync(leftover);
    writeFileSync(join(leftover, 'student.safetensors'), 'partial');
    writeFileSync(join(ck, `.tmp-latest-${pid}-1`), 'step-0000');
    mkdirSync(join(ck, 'step-00000006'));
    writeFileSync(join(ck, 'latest'), 'step-00000005\n');

    expect(m.list().map((c) => c.step)).toEqual([4]);
    expect(m.latestDir()).toBe(join(ck, 'step-00000004'));
    const before = tf.memory().numTensors;
    const c = await m.load();
    expect(c.step).toBe(4);
    c.dispose();
    expect(tf.memory().numTensors).toBe(before);

    // A pointer that tries to leave the folder is not followed either.
    writeFileSync(join(ck, 'latest'), '../../etc\n');
    expect(m.latestDir()).toBe(join(ck, 'step-00000004'));

    await saveStep(m, 5);
    expect(readdirSync(ck).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    expect(m.list().map((x) => x.step)).toEqual([4, 5]);
  });

  it('refuses a corrupted or truncated file, naming it, without leaking tensors', async () => {
    const run = tmp();
    const m = new CheckpointManager(run, { keepLast: 3 });
    const dir = await saveStep(m, 1);
    const before = tf.memory().numTensors;

    // teacher is decoded last (alphabetical), so the other groups were already made when it fails.
    const teacher = join(dir, 'teacher.safetensors');
    const good = readFileSync(teacher);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 2]! ^= 0x01;
    writeFileSync(teacher, flipped);
    let e = await rejection(m.load(dir));
    expect(e.file).toBe(teacher);
    expect(e.message).toBe(`${teacher}: is corrupt: its SHA-256 does not match the manifest`);
    expect(tf.memory().numTensors).toBe(before);

    writeFileSync(teacher, good.subarray(0, good.length - 4));
    e = await rejection(m.load(dir));
    expect(e.message).toBe(`${teacher}: is corrupt or truncated: ${good.length - 4} bytes, the manifest says ${good.length}`);
    expect(tf.memory().numTensors).toBe(before);
    writeFileSync(teacher, good);

    const state = join(dir, 'state.json');
    const stateText = readFileSync(state, 'utf8');
    writeFileSync(state, stateText.replace('"step": 1', '"step": 2'));
    e = await rejection(m.load(dir));
    expect(e.message).toMatch(/state\.json: is corrupt/);
    writeFileSync(state, stateText);

    const optimizer = join(dir, 'optimizer.safetensors');
    const opt = readFileSync(optimizer);
    rmSync(optimizer);
    expect((await rejection(m.load(dir))).message).toBe(`${optimizer}: is missing from the checkpoint`);
    writeFileSync(optimizer, opt);

    const manifestFile = join(dir, 'manifest.json');
    const manifest = readFileSync(manifestFile, 'utf8');
    writeFileSync(manifestFile, manifest.replace('"step": 1', '"step": 7'));
    expect((await rejection(m.load(dir))).message).toMatch(/manifest\.json: is corrupt: it records step 7 but the folder is step 1/);
    writeFileSync(manifestFile, manifest.replace(`"format": ${CHECKPOINT_FORMAT}`, '"format": 99'));
    expect((await rejection(m.load(dir))).message).toMatch(/checkpoint format 99 is not supported/);
    writeFileSync(manifestFile, manifest.slice(0, 30));
    expect((await rejection(m.load(dir))).message).toMatch(/manifest\.json: is corrupt: not valid JSON/);
    writeFileSync(manifestFile, manifest);

    const ok = await m.load(dir);
    ok.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('lists every differing config key with both values, honouring ignoreKeys', async () => {
    const run = tmp();
    const m = new CheckpointManager(run, { keepLast: 3 });
    const dir = await saveStep(m, 2);
    const before = tf.memory().numTensors;
    const current = { ...config, model: { depth: 4, dim: 8, heads: 2, layers: [{ k: 1 }] }, train: { steps: 99, lr: 0.002 }, out: 'runs/b', resume: true };
    const e = await rejection(m.load(dir, { expectConfig: current, ignoreKeys: ['train.steps', 'out', 'resume'] }));
    expect(e.file).toBe(join(dir, 'config.json'));
    expect(e.message).toBe(
      `${join(dir, 'config.json')}: config mismatch: ` +
        'model.depth is 2 in the checkpoint but 4 in this run; ' +
        'model.heads is absent in the checkpoint but 2 in this run; ' +
        'train.lr is 0.001 in the checkpoint but 0.002 in this run',
    );
    expect(tf.memory().numTensors).toBe(before);
    // Without ignoreKeys the ignored ones are reported too.
    const all = await rejection(m.load(dir, { expectConfig: current }));
    expect(all.message).toMatch(/out is "runs\/a" in the checkpoint but "runs\/b" in this run/);
    expect(all.message).toMatch(/resume is false in the checkpoint but true in this run/);
    expect(all.message).toMatch(/train\.steps is 10 in the checkpoint but 99 in this run/);

    const same = await m.load(dir, { expectConfig: { ...config, out: 'elsewhere' }, ignoreKeys: ['out'] });
    same.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives clear errors for a missing checkpoint and bad arguments', async () => {
    const run = tmp();
    const m = new CheckpointManager(run, { keepLast: 2 });
    const none = await rejection(m.load());
    expect(none.message).toBe(`${join(run, 'checkpoints')}: no checkpoint found to load (nothing was saved in this run folder yet)`);
    const missing = join(run, 'checkpoints', 'step-00000009');
    expect((await rejection(m.load(missing))).message).toBe(`${missing}: checkpoint folder does not exist`);
    mkdirSync(missing, { recursive: true });
    expect((await rejection(m.load(missing))).message).toMatch(/manifest\.json: is missing: the folder is not a complete checkpoint/);

    expect(() => new CheckpointManager(run, { keepLast: 0 })).toThrow(ConfigError);
    expect(() => new CheckpointManager(run, { keepLast: 1.5 })).toThrow(/keepLast must be an integer >= 1/);
    const w = tf.scalar(1);
    await expect(m.save({ step: 1, groups: { '../evil': { w } }, state: {}, config })).rejects.toThrow(/cannot save tensor group "\.\.\/evil"/);
    await expect(m.save({ step: -1, groups: {}, state: {}, config })).rejects.toThrow(/cannot save step -1/);
    await expect(m.save({ step: 1, groups: { student: { w } }, state: { big: 1n }, config })).rejects.toThrow(/not JSON-serialisable/);
    w.dispose();
    const c = { student: { w: tf.scalar(1) } };
    c.student.w.dispose();
    await expect(m.save({ step: 1, groups: c, state: {}, config })).rejects.toThrow(/tensor w was disposed/);
    // Nothing half-written is left by the failed saves.
    expect(readdirSync(join(run, 'checkpoints')).sort()).toEqual(['step-00000009']);
  });
});

/**
 * Runs a child process that re-saves `step` into `run` with empty groups and
 * kills itself with SIGKILL at the first fs call `when` matches: a real crash,
 * with nothing cleaned up.
 */
function saveAndCrash(run: string, step: number, when: { fn: 'writeFileSync' | 'renameSync'; arg: string }): void {
  const io = new URL('../src/io/index.ts', import.meta.url).href;
  const script = join(run, 'crash.mts');
  writeFileSync(
    script,
    `import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const real = fs.${when.fn};
fs.${when.fn} = (...a) => {
  if (String(a[0]).includes(${JSON.stringify(when.arg)})) process.kill(process.pid, 'SIGKILL');
  return real(...a);
};
syncBuiltinESMExports();
const { CheckpointManager } = await import(${JSON.stringify(io)});
await new CheckpointManager(${JSON.stringify(run)}, { keepLast: 5 }).save({ step: ${step}, groups: {}, state: {}, config: {} });
console.log('saved without crashing');
`,
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' });
  rmSync(script);
  expect(r.stderr).not.toMatch(/Error/);
  expect(r.signal).toBe('SIGKILL');
}

describe('crash during save (child process killed)', () => {
  it('a crash while the folder is being filled leaves the previous checkpoints usable', async () => {
    const run = tmp();
    const m = new CheckpointManager(run, { keepLast: 3 });
    await saveStep(m, 1);
    saveAndCrash(run, 2, { fn: 'writeFileSync', arg: 'state.json' });
    const ck = join(run, 'checkpoints');
    expect(readdirSync(ck).filter((n) => n.startsWith('.tmp-step-00000002-'))).toHaveLength(1);
    expect(m.list().map((c) => c.step)).toEqual([1]);
    expect(m.latestDir()).toBe(join(ck, 'step-00000001'));
    const c = await m.load();
    expect(c.groups['student']!['encoder.w']!.dataSync()[0]).toBe(1);
    c.dispose();
    await saveStep(m, 2);
    expect(readdirSync(ck).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });

  it('a crash between the two renames of a replacement puts the old checkpoint back', async () => {
    const run = tmp();
    const m = new CheckpointManager(run, { keepLast: 3 });
    await saveStep(m, 1);
    await saveStep(m, 2);
    // Killed when the new folder is about to take the name, after the old one was moved aside.
    saveAndCrash(run, 2, { fn: 'renameSync', arg: '.tmp-step-00000002-' });
    const ck = join(run, 'checkpoints');
    expect(existsSync(join(ck, 'step-00000002'))).toBe(false);
    expect(m.latestDir()).toBe(join(ck, 'step-00000002'));
    const c = await m.load();
    expect(Object.keys(c.groups).sort()).toEqual(['masks', 'optimizer', 'student', 'teacher']);
    expect(c.groups['student']!['encoder.w']!.dataSync()[0]).toBe(2);
    c.dispose();
    await saveStep(m, 3);
    expect(readdirSync(ck).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
    expect(m.list().map((x) => x.step)).toEqual([1, 2, 3]);
  });
});

describe('atomic writes and config diffs', () => {
  it('writeFileAtomic creates folders and replaces files whole, leaving no temp file', () => {
    const d = tmp();
    const f = join(d, 'a', 'b', 'f.json');
    writeFileAtomic(f, 'one');
    writeFileAtomic(f, Uint8Array.from([0x74, 0x77, 0x6f]));
    expect(readFileSync(f, 'utf8')).toBe('two');
    expect(readdirSync(join(d, 'a', 'b'))).toEqual(['f.json']);
  });

  it('writeDirAtomic replaces a folder whole and leaves the old one intact when filling fails', async () => {
    const parent = tmp();
    const final = join(parent, 'ck');
    await writeDirAtomic(final, (t) => writeFileSync(join(t, 'x'), 'old'));
    await expect(
      writeDirAtomic(final, async (t) => {
        writeFileSync(join(t, 'x'), 'half');
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(readdirSync(parent)).toEqual(['ck']);
    expect(readFileSync(join(final, 'x'), 'utf8')).toBe('old');
    await writeDirAtomic(final, (t) => {
      mkdirSync(join(t, 'sub'));
      writeFileSync(join(t, 'sub', 'y'), 'new');
    });
    expect(readdirSync(parent)).toEqual(['ck']);
    expect(existsSync(join(final, 'x'))).toBe(false);
    expect(readFileSync(join(final, 'sub', 'y'), 'utf8')).toBe('new');
    expect(basename(final)).toBe('ck');
  });

  it('diffConfig compares by dotted path, ignores whole subtrees and key order', () => {
    expect(diffConfig({ a: 1, b: { c: 2, d: 3 } }, { a: 1, b: { c: 5 }, e: true })).toEqual([
      'b.c is 2 in the checkpoint but 5 in this run',
      'b.d is 3 in the checkpoint but absent in this run',
      'e is absent in the checkpoint but true in this run',
    ]);
    // Prefixes match whole path segments only: ignoring "out" does not ignore "outDir".
    expect(diffConfig({ out: 'a', outDir: 'x', t: { s: 1, sx: 1 } }, { out: 'b', outDir: 'y', t: { s: 2, sx: 2 } }, ['out', 't.s'])).toEqual([
      'outDir is "x" in the checkpoint but "y" in this run',
      't.sx is 1 in the checkpoint but 2 in this run',
    ]);
    expect(diffConfig({ l: [{ a: 1, b: 2 }] }, { l: [{ b: 2, a: 1 }] })).toEqual([]);
    expect(diffConfig({ l: [1, 2] }, { l: [2, 1] })).toEqual(['l is [1,2] in the checkpoint but [2,1] in this run']);
    // The current config is compared as it would be stored: undefined is absent.
    expect(diffConfig({ a: 1 }, { a: 1, b: undefined })).toEqual([]);
    expect(diffConfig({ m: { x: 1 } }, { m: 3 })).toEqual(['m is {"x":1} in the checkpoint but 3 in this run']);
  });
});
