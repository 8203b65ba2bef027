import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend, ConfigError } from '../src/index.js';
import { calibrateUpdateSeconds } from '../src/bench.js';
import { modality as toy } from './fixtures/toy-modality.js';
import { tempDir } from '../src/testing.js';

beforeAll(async () => {
  await initBackend('wasm');
});

describe('calibrateUpdateSeconds', () => {
  it('is the median update time after the warm-up updates of a short run', async () => {
    const out = tempDir('cal');
    const sec = await calibrateUpdateSeconds({ modality: toy, out, steps: 5, warmup: 2 });
    const logged = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; sec?: number });
    const after = logged.filter((m) => m.step > 2 && typeof m.sec === 'number').map((m) => m.sec!).sort((a, b) => a - b);
    expect(after).toHaveLength(3);
    expect(sec).toBe(after[1]);
    expect(sec).toBeGreaterThan(0);
    await expect(calibrateUpdateSeconds({ modality: toy, out, steps: 2, warmup: 2 })).rejects.toThrow(ConfigError);
  });
});
