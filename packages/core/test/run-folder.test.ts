import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, pretrain, readMetrics, CheckpointError, ConfigError } from '../src/index.js';
import { quietRun, tempDir } from '../src/testing.js';
import { modality as toy } from './fixtures/toy-modality.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const run = (overrides: Record<string, unknown>, extra: { stopAfter?: number; log?: (m: string) => void } = {}) =>
  pretrain({ modality: toy, ...quietRun, ...extra, overrides: { 'train.logEvery': 1, ...overrides } });
const stepsIn = (out: string) => readMetrics(join(out, 'metrics.jsonl')).map((m) => m.step);
const checkpointsIn = (out: string) => readdirSync(join(out, 'checkpoints')).filter((d) => d.startsWith('step-')).sort();

describe('a run folder belongs to one run', () => {
  it('refuses a new run into a used --out, leaving it untouched; --overwrite replaces the earlier run', async () => {
    const out = tempDir('runs');
    await run({ out, 'train.steps': 6, 'train.checkpointEvery': 3 });
    const metricsBefore = readFileSync(join(out, 'metrics.jsonl'), 'utf8');
    const configBefore = readFileSync(join(out, 'config.json'), 'utf8');
    const err = await run({ out, 'train.steps': 2, 'optim.lr': 0.005 }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.key).toBe('out');
    expect(err.message).toMatch(/already holds an earlier run \(checkpoints, config\.json, metrics\.jsonl.*continue it with --resume, replace it with --overwrite, or choose another --out/);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).toBe(metricsBefore);
    expect(readFileSync(join(out, 'config.json'), 'utf8')).toBe(configBefore);

    writeFileSync(join(out, 'notes.txt'), 'my notes');
    const logs: string[] = [];
    await run({ out, 'train.steps': 2, overwrite: true }, { log: (m) => logs.push(m) });
    expect(logs.join('\n')).toMatch(/--overwrite: deleting the earlier run in .* keeping 1 other file\(s\) \(notes\.txt\)/);
    expect(stepsIn(out)).toEqual([1, 2]);
    expect(checkpointsIn(out)).toEqual(['step-00000002']);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('my notes');
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).train.steps).toBe(2);
  });

  it('--resume with no checkpoint yet starts at step 0 without duplicating the metrics of the attempt before', async () => {
    const out = tempDir('runs');
    // An attempt that stopped after 3 updates, before its first checkpoint.
    await run({ out, 'train.steps': 5, 'train.checkpointEvery': 100 }, { stopAfter: 3 });
    expect(stepsIn(out)).toEqual([1, 2, 3]);
    expect(existsSync(join(out, 'checkpoints'))).toBe(false);
    const logs: string[] = [];
    await run({ out, 'train.steps': 5, 'train.checkpointEvery': 100, resume: true }, { log: (m) => logs.push(m) });
    expect(stepsIn(out)).toEqual([1, 2, 3, 4, 5]);
    expect(logs.join('\n')).toMatch(/has no checkpoint yet; starting from step 0 \(the earlier attempt's records in metrics\.jsonl are dropped\)/);
  });

  it('a refused --resume writes nothing; resuming past train.steps is refused, at train.steps it has nothing to do', async () => {
    const out = tempDir('runs');
    await run({ out, 'train.steps': 4, 'train.checkpointEvery': 2 });
    const configBefore = readFileSync(join(out, 'config.json'), 'utf8');
    const metricsBefore = readFileSync(join(out, 'metrics.jsonl'), 'utf8');
    const err = await run({ out, 'train.steps': 6, resume: true, 'model.dim': 48 }).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/config mismatch: model\.dim is 32 in the checkpoint but 48 in this run.*--resume may change only .*optim\.lr/);
    expect(readFileSync(join(out, 'config.json'), 'utf8')).toBe(configBefore);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).toBe(metricsBefore);

    const past = await run({ out, 'train.steps': 3, resume: true }).catch((e) => e);
    expect(past).toBeInstanceOf(ConfigError);
    expect(past.message).toMatch(/the checkpoint .*step-00000004 is at step 4, past train\.steps 3; give --steps above 4/);
    const logs: string[] = [];
    const done = await run({ out, 'train.steps': 4, resume: true }, { log: (m) => logs.push(m) });
    expect(done.step).toBe(4);
    expect(done.losses).toEqual([]);
    expect(logs.join('\n')).toMatch(/at step 4 \(already complete: nothing to do\)/);
  });

  it('--out naming a file, or a path through a file, is a ConfigError naming out before anything is written', async () => {
    const dir = tempDir('runs');
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    await expect(run({ out: file, 'train.steps': 1 })).rejects.toThrow(/out: .*a-file is a file, not a folder; choose another --out/);
    await expect(run({ out: join(file, 'run'), 'train.steps': 1 })).rejects.toThrow(/a-file \(on the way to .*run\) is a file, not a folder/);
    expect(readdirSync(dir)).toEqual(['a-file']);
  });
});
