/**
 * Micro-benchmark: one Transformer block (ViT tiny: width 192, 3 heads, FFN 768, batch 64 x 49
 * tokens) forward + backward on tfjs-wasm, without and with d2v's kernel patches, next to a plain
 * 2-D matMul measured in the same run.   npx tsx packages/core/bench/block.ts [--json out.json]
 */
import * as tf from '@tensorflow/tfjs-core';
import { writeFileSync } from 'node:fs';
import { initBackend, Transformer, patchWasmKernels, unpatchWasmKernels, disposeOutput } from '../src/index.js';

const [B, T, C, H, F] = [64, 49, 192, 3, 768];
await initBackend('wasm');

function median(f: () => void, reps: number): { med: number; min: number; max: number } {
  f();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return { med: ts[Math.floor(ts.length / 2)]!, min: ts[0]!, max: ts.at(-1)! };
}

// Analytic FLOPs of one block, forward: qkv, proj, fc1, fc2 and the two attention products.
const fwdFlops = 2 * B * T * (C * 3 * C + C * C + 2 * C * F) + 2 * 2 * B * T * T * C;
const block = new Transformer({ dim: C, depth: 1, heads: H, ffnDim: F, norm: 'pre', dropout: 0, attentionDropout: 0 }, 1);
const x = tf.randomNormal([B, T, C]) as tf.Tensor3D;
const vars = block.trainableVariables();
const step = () =>
  tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const o = block.forward(x, { collect: false });
      const l = tf.mean(tf.square(o.output)) as tf.Scalar;
      disposeOutput({ ...o, output: tf.scalar(0) as never });
      return l;
    }, vars);
    value.dataSync();
    Object.values(grads).forEach((g) => sync(g));
  });

const a = tf.randomNormal([B * T, C]);
const w = tf.randomNormal([C, F]);
const sync = (t: tf.Tensor) => tf.tidy(() => tf.slice(tf.reshape(t, [-1]), 0, 1).dataSync());
const mm = median(() => tf.tidy(() => sync(tf.matMul(a, w))), 10);
const mmGflops = (2 * B * T * C * F) / mm.med / 1e6;

const q = tf.randomNormal([B * H, T, C / H]);
const kt = tf.randomNormal([B * H, C / H, T]);
const attnFlops = 2 * B * H * T * T * (C / H);
const attnAfter = median(() => tf.tidy(() => sync(tf.matMul(q, kt))), 10);
unpatchWasmKernels();
const attnBefore = median(() => tf.tidy(() => sync(tf.matMul(q, kt))), 5);
const before = median(step, 3);
patchWasmKernels();
const after = median(step, 5);

const rows = [
  ['plain 2-D matMul [3136x192]x[192x768]', mm.med, mmGflops],
  ['attention scores [192x49x64]x[192x64x49], stock kernel', attnBefore.med, attnFlops / attnBefore.med / 1e6],
  ['attention scores, d2v SIMD batched kernel', attnAfter.med, attnFlops / attnAfter.med / 1e6],
  ['block fwd+bwd, stock tfjs-wasm kernels', before.med, (3 * fwdFlops) / before.med / 1e6],
  ['block fwd+bwd, d2v kernel patches', after.med, (3 * fwdFlops) / after.med / 1e6],
] as const;
console.log('| what | ms (median) | GFLOP/s |\n|---|---|---|');
for (const [n, ms, g] of rows) console.log(`| ${n} | ${ms.toFixed(1)} | ${g.toFixed(2)} |`);
console.log(`\nspeed-up from the patches: ${(before.med / after.med).toFixed(2)}x; patched block reaches ${((100 * (3 * fwdFlops)) / after.med / 1e6 / mmGflops).toFixed(0)}% of the plain matMul rate`);
const i = process.argv.indexOf('--json');
if (i > 0) writeFileSync(process.argv[i + 1]!, JSON.stringify({ matmulGflops: mmGflops, attentionMs: { before: attnBefore, after: attnAfter }, beforeMs: before, afterMs: after, fwdFlops }, null, 2));
