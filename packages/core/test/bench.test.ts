import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
    expect(md).toContain('| toy | data2vec 1.0 | wasm | 0 | 4 |');
    expect(r.maskedPerSample).toBe(8); // toy.maskRatio 0.5 of 16 steps
    expect(r.teacherShare).toBeCloseTo(0.25, 1); // 1 forward of 4 Transformer passes (plus the toy's tiny encoder)
    // The kernel profile of one update: matmuls among its kernels, shares adding up to the whole.
    expect(j.profiles).toHaveLength(1);
    const kernels = j.profiles[0].kernels as { kernel: string; calls: number; share: number }[];
    expect(kernels.map((k) => k.kernel)).toContain('BatchMatMul');
    expect(kernels.reduce((s, k) => s + k.share, 0)).toBeCloseTo(1, 6);
    expect(md).toMatch(/\| kernel \| calls \| ms \| share \|/);

    // data2vec 2.0: 4 masked copies, the student on the visible half only, one teacher pass.
    const out2 = mkdtempSync(join(tmpdir(), 'd2v-bench-smoke-'));
    execFileSync('npx', ['tsx', script, '--modality', toy, '--preset', 'tiny-v2', '--backends', 'wasm', '--workers', '0', '--steps', '2', '--warmup', '1', '--set', 'train.batchSize=4', '--no-profile', '--out', out2], {
      stdio: 'pipe',
      timeout: 120_000,
    });
    const v2 = JSON.parse(readFileSync(join(out2, 'bench.json'), 'utf8')).rows[0];
    expect(v2.objective).toBe('data2vec 2.0 x 4');
    expect(v2.maskedPerSample).toBe(32);
    expect(v2.teacherShare).toBeGreaterThan(0);
    expect(v2.teacherShare).toBeLessThan(r.teacherShare);
    for (const d of [out, out2]) rmSync(d, { recursive: true, force: true });
  });
});
