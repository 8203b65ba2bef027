import { describe, it, expect, beforeAll } from 'vitest';
import { resolve } from 'node:path';
import { initBackend, pretrain } from '../src/index.js';
import { tempDir } from '../src/testing.js';

const TOY = resolve(__dirname, 'fixtures/toy-modality.ts');
const quiet = { log: () => {}, plots: false, progressStream: { write: () => true, isTTY: false } as never };

beforeAll(async () => {
  await initBackend('wasm');
});

describe('data-parallel gradient workers', () => {
  it('a run with a worker thread equals sequential gradient accumulation', async () => {
    const base = { 'train.steps': 8, 'optim.accumulate': 2, 'train.batchSize': 8 };
    const seq = await pretrain({ modality: TOY, ...quiet, overrides: { ...base, out: tempDir('par') } });
    const par = await pretrain({ modality: TOY, ...quiet, overrides: { ...base, out: tempDir('par'), 'train.workers': 1 } });
    expect(par.losses).toHaveLength(8);
    for (let i = 0; i < 8; i++) expect(par.losses[i]).toBeCloseTo(seq.losses[i]!, 4);
  });
});
