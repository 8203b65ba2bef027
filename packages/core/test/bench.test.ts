import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

describe('benchmark smoke test', () => {
  it('starts and writes its JSON and table on a tiny run', () => {
    const out = mkdtempSync(join(tmpdir(), 'd2v-bench-smoke-'));
    const script = resolve(__dirname, '../bench/pretrain-step.ts');
    const toy = resolve(__dirname, 'fixtures/toy-modality.ts');
    execFileSync('npx', ['tsx', script, '--modality', toy, '--backends', 'wasm', '--workers', '0', '--steps', '2', '--warmup', '1', '--set', 'train.batchSize=4', '--out', out], {
      stdio: 'pipe',
      timeout: 120_000,
    });
    const j = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8'));
    expect(j.rows).toHaveLength(1);
    const r = j.rows[0];
    expect(r.modality).toBe('toy');
    expect(r.samplesPerUpdate).toBe(4);
    expect(r.tokensPerSample).toBe(16);
    expect(r.samplesPerSecond).toBeGreaterThan(0);
    expect(r.gflopsAchieved).toBeGreaterThan(0);
    expect(r.matmulGflops).toBeGreaterThan(0);
    expect(r.fractionPerThread).toBeCloseTo(r.fractionOfMatmul, 10);
    const md = readFileSync(join(out, 'bench.md'), 'utf8');
    expect(md).toContain('| toy | wasm | 0 | 4 |');
    // The kernel profile of one update: matmuls among its kernels, shares adding up to the whole.
    expect(j.profiles).toHaveLength(1);
    const kernels = j.profiles[0].kernels as { kernel: string; calls: number; share: number }[];
    expect(kernels.map((k) => k.kernel)).toContain('BatchMatMul');
    expect(kernels.reduce((s, k) => s + k.share, 0)).toBeCloseTo(1, 6);
    expect(md).toMatch(/\| kernel \| calls \| ms \| share \|/);
  });
});
