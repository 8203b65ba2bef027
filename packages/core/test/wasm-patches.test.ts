import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, patchWasmKernels, collapsePermutation, gelu } from '../src/index.js';

/** Runs f on the cpu backend and on (patched) wasm with the same inputs; returns both results as arrays. */
async function both(inputs: tf.Tensor[], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<[number[][], number[][]]> {
  const data = inputs.map((t) => ({ v: t.dataSync().slice(), s: t.shape, d: t.dtype }));
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const xs = data.map((x) => tf.tensor(x.v, x.s, x.d));
    const n = tf.memory().numTensors;
    const r = tf.tidy(() => {
      const o = f(...xs);
      return Array.isArray(o) ? o : [o];
    });
    const arrays = r.map((t) => Array.from(t.dataSync()));
    tf.dispose(r);
    expect(tf.memory().numTensors).toBe(n);
    tf.dispose(xs);
    return arrays;
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  return [cpu, wasm];
}

function expectClose(a: number[][], b: number[][], tol = 1e-4) {
  expect(a.length).toBe(b.length);
  a.forEach((x, i) => {
    expect(x.length).toBe(b[i]!.length);
    const scale = x.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
    for (let j = 0; j < x.length; j++) expect(Math.abs(x[j]! - b[i]![j]!) / scale).toBeLessThanOrEqual(tol);
  });
}

const rnd = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

beforeAll(async () => {
  await initBackend('cpu');
  await initBackend('wasm');
});
afterAll(async () => {
  await tf.setBackend('wasm');
});

describe('wasm kernel patches agree with the cpu backend', () => {
  it('matMul with transpose flags, shared weights and batches (forward and gradients)', async () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[5, 7], [7, 3], false, false],
      [[7, 5], [7, 3], true, false],
      [[5, 7], [3, 7], false, true],
      [[7, 5], [3, 7], true, true],
      [[2, 3, 5, 7], [2, 3, 7, 4], false, false],
      [[2, 3, 5, 7], [2, 3, 4, 7], false, true],
      [[6, 7, 5], [6, 7, 4], true, false],
    ];
    for (const [sa, sb, ta, tb] of cases) {
      const a = rnd(sa, 1);
      const b = rnd(sb, 2);
      const [c, w] = await both([a, b], (x, y) => {
        const g = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.matMul(p, q, ta, tb))));
        return [tf.matMul(x!, y!, ta, tb), ...g([x!, y!])];
      });
      expectClose(c, w);
      tf.dispose([a, b]);
    }
    // Shared weights (rank-3/4 x rank-2): forward only, tfjs's own BatchMatMul gradient cannot broadcast.
    for (const [sa, sb] of [[[4, 5, 7], [7, 3]], [[2, 4, 5, 7], [7, 3]]]) {
      const a = rnd(sa!, 1);
      const b = rnd(sb!, 2);
      const [c, w] = await both([a, b], (x, y) => tf.matMul(x!, y!));
      expectClose(c, w);
      tf.dispose([a, b]);
    }
  });

  it('fused matMul with bias and relu', async () => {
    const a = rnd([3, 4, 6], 3);
    const b = rnd([6, 5], 4);
    const bias = rnd([5], 5);
    const [c, w] = await both([a, b, bias], (x, y, z) => tf.fused.matMul({ a: x as tf.Tensor3D, b: y as tf.Tensor2D, bias: z, activation: 'relu' }));
    expectClose(c, w);
    tf.dispose([a, b, bias]);
  });

  it('rank-5 and rank-6 transposes with any permutation', async () => {
    const x5 = rnd([2, 3, 4, 5, 6], 6);
    for (const perm of [[0, 2, 1, 3, 4], [2, 0, 3, 1, 4], [4, 3, 2, 1, 0], [0, 1, 2, 3, 4], [1, 2, 3, 4, 0]]) {
      const [c, w] = await both([x5], (x) => tf.transpose(x!, perm));
      expectClose(c, w, 0);
    }
    const x6 = rnd([2, 1, 3, 2, 4, 3], 7);
    for (const perm of [[0, 1, 3, 2, 5, 4], [5, 4, 3, 2, 1, 0], [1, 0, 2, 3, 4, 5]]) {
      const [c, w] = await both([x6], (x) => tf.transpose(x!, perm));
      expectClose(c, w, 0);
    }
    tf.dispose([x5, x6]);
  });

  it('gather gradient (UnsortedSegmentSum) matches, out-of-range ids dropped', async () => {
    const table = rnd([10, 4], 8);
    const ids = tf.tensor1d([1, 3, 3, 9, 0, 1], 'int32');
    const [c, w] = await both([table, ids], (t, i) => tf.grad((p: tf.Tensor) => tf.sum(tf.mul(tf.gather(p, i!), tf.range(0, 24).reshape([6, 4]))))(t!));
    expectClose(c, w);
    const x = rnd([5, 3], 9);
    const seg = tf.tensor1d([0, 2, -1, 2, 7], 'int32');
    const [c2, w2] = await both([x, seg], (v, s) => tf.unsortedSegmentSum(v!, s! as tf.Tensor1D, 4));
    expectClose(c2, w2);
    tf.dispose([table, ids, x, seg]);
  });

  it('gather along axis 0 (rows, int32 and float, any index rank) and slices of every rank match, exactly', async () => {
    const x = rnd([7, 5, 3], 11);
    const ints = tf.tensor2d([[1, 2], [3, 4], [5, 6]], [3, 2], 'int32');
    const [cpu, wasm] = await both([x, ints], (a, n) => [
      tf.gather(a, tf.tensor1d([6, 0, 0, 3], 'int32')),
      tf.gather(a, tf.tensor2d([[1, 2], [2, 1]], [2, 2], 'int32')),
      tf.gather(n, tf.tensor1d([2, 0], 'int32')),
      tf.gather(a, tf.tensor1d([1, 0], 'int32'), 1), // another axis: the stock kernel
      tf.slice(a, [1, 0, 0], [3, -1, -1]),
      tf.slice(a, [2, 1, 0], [4, 3, 3]),
      tf.slice(a, [0, 2, 1], [7, 2, 1]),
      tf.slice(tf.reshape(a, [7, 15]), [3, 4], [2, 9]),
      tf.slice(tf.reshape(a, [105]), [10], [40]),
      tf.slice(tf.reshape(a, [7, 5, 3, 1]), [1, 1, 1, 0], [2, 2, 2, 1]),
      tf.slice(n, [1, 1], [2, 1]),
    ]);
    expect(wasm).toEqual(cpu);
  });

  it('collapses permutations to the lowest rank', () => {
    expect(collapsePermutation([2, 3, 4, 5, 6], [0, 2, 1, 3, 4])).toEqual({ shape: [2, 3, 4, 30], perm: [0, 2, 1, 3] });
    expect(collapsePermutation([2, 1, 4, 5, 6], [2, 0, 3, 1, 4])).toEqual({ shape: [2, 4, 30], perm: [1, 0, 2] });
    expect(collapsePermutation([2, 3, 4, 5, 6], [0, 1, 2, 3, 4])).toEqual({ shape: [720], perm: [0] });
  });

  it('patching is idempotent and unpatch restores the original kernels', () => {
    const before = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
    const unpatch = patchWasmKernels();
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).toBe(before);
    unpatch();
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).not.toBe(before);
    patchWasmKernels();
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).not.toBe(tf.getKernel('Transpose', 'cpu')!.kernelFunc);
  });
});

describe('conv2d trains on wasm (filter gradient without Conv2DBackpropFilter)', () => {
  const cases: { x: number[]; f: number[]; s: number | [number, number]; pad: 'valid' | 'same'; d?: number }[] = [
    { x: [2, 1, 40, 3], f: [1, 10, 3, 4], s: [1, 5], pad: 'valid' },
    { x: [2, 1, 17, 4], f: [1, 3, 4, 5], s: [1, 2], pad: 'valid' },
    { x: [1, 9, 8, 2], f: [3, 3, 2, 3], s: 2, pad: 'same' },
    { x: [2, 7, 7, 2], f: [3, 2, 2, 2], s: 1, pad: 'same' },
  ];
  for (const c of cases) {
    it(`x [${c.x}] filter [${c.f}] stride ${c.s} ${c.pad}${c.d ? ` dilation ${c.d}` : ''}`, async () => {
      const x = rnd(c.x, 11);
      const f = rnd(c.f, 12);
      const [cpu, wasm] = await both([x, f], (a, b) =>
        tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, c.s, c.pad, 'NHWC', c.d ?? 1))))([a!, b!]),
      );
      expectClose(cpu, wasm);
      tf.dispose([x, f]);
    });
  }
});

describe('SIMD batched matmul (attention products)', () => {
  it('matches the cpu backend for tile and non-tile shapes, forward and gradients', async () => {
    const cases: [number[], number[]][] = [
      [[3, 5, 7], [3, 7, 9]],
      [[2, 4, 8], [2, 8, 16]],
      [[2, 3, 9, 5], [2, 3, 5, 13]],
      [[192, 49, 64], [192, 64, 49]],
    ];
    for (const [sa, sb] of cases) {
      const a = rnd(sa, 21);
      const b = rnd(sb, 22);
      const [c, w] = await both([a, b], (x, y) => [tf.matMul(x!, y!), ...tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.matMul(p, q))))([x!, y!])]);
      expectClose(c, w);
      tf.dispose([a, b]);
    }
  });
});

/** erf in float64 by its Taylor series (exact to ~1e-9 on [-4, 4]); +-1 beyond (|erf - 1| < 2e-8 there). */
function erf64(x: number): number {
  if (Math.abs(x) > 4) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let n = 1; n < 120; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

describe('SIMD exp and erf (GELU)', () => {
  // Odd lengths exercise the tail after the 4-lane loop.
  const grid = (lo: number, hi: number, n: number) => Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));

  it('exp: relative error < 4e-7 over the float range, limits and NaN as Math.exp', async () => {
    await tf.setBackend('wasm');
    const xs = grid(-87, 88.5, 100_003);
    const y = tf.tidy(() => tf.exp(tf.tensor1d(xs)).dataSync());
    let worst = 0;
    for (let i = 0; i < xs.length; i++) {
      const ref = Math.exp(xs[i]!);
      if (ref > 1.2e-38 && ref < 3.4e38) worst = Math.max(worst, Math.abs(y[i]! - ref) / ref);
    }
    expect(worst).toBeLessThan(4e-7);
    const special = tf.tidy(() => Array.from(tf.exp(tf.tensor1d([0, -0, 89, 1000, Infinity, -Infinity, -200, NaN, -95])).dataSync()));
    expect(special.slice(0, 7)).toEqual([1, 1, Infinity, Infinity, Infinity, 0, 0]);
    expect(special[7]).toBeNaN();
    expect(special[8]).toBeLessThan(1.2e-38);
  });

  it('erf: absolute error < 3e-7, odd symmetry, NaN as NaN', async () => {
    await tf.setBackend('wasm');
    const xs = grid(-6, 6, 20_001);
    const y = tf.tidy(() => tf.erf(tf.tensor1d(xs)).dataSync());
    let worst = 0;
    for (let i = 0; i < xs.length; i++) worst = Math.max(worst, Math.abs(y[i]! - erf64(xs[i]!)));
    expect(worst).toBeLessThan(3e-7);
    for (let i = 0; i < xs.length; i++) expect(y[i]! + y[xs.length - 1 - i]!).toBe(0);
    const special = tf.tidy(() => Array.from(tf.erf(tf.tensor1d([Infinity, -Infinity, NaN])).dataSync()));
    expect(special.slice(0, 2)).toEqual([1, -1]);
    expect(special[2]).toBeNaN();
  });

  it('GELU forward and gradient match the cpu backend', async () => {
    const x = tf.mul(rnd([7, 33, 19], 31), 3);
    const [c, w] = await both([x], (v) => [gelu(v!), tf.grad((u: tf.Tensor) => tf.sum(tf.mul(gelu(u), u)))(v!)]);
    expectClose(c, w, 2e-6);
    x.dispose();
  });
});

describe('Identity shares data on wasm', () => {
  it('clone costs no copy and survives disposing the source', async () => {
    await tf.setBackend('wasm');
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    expect(b.dataId).toBe(a.dataId);
    a.dispose();
    expect([...b.dataSync()]).toEqual([1, 2, 3]);
    b.dispose();
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, x)))(tf.tensor1d([1, -2]));
    expect([...g.dataSync()]).toEqual([2, -4]);
    g.dispose();
  });
});
