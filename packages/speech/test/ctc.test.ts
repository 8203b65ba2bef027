import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, Rng, ShapeError } from '@d2v/core';
import { ctcLoss } from '../src/ctc/ctcLoss.js';
import { collapseCtc, greedyDecode, greedyDecodeIds } from '../src/ctc/decode.js';
import { textToIds, LETTERS } from '../src/data/letters.js';

/** Sum over every one of the V^T paths: P(label) and d(-log P)/d logits, by definition. */
function bruteForce(logits: number[][], label: number[], blank = 0): { loss: number; grad: number[][] } {
  const T = logits.length;
  const V = logits[0]!.length;
  const y = logits.map((row) => {
    const m = Math.max(...row);
    const e = row.map((z) => Math.exp(z - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
  let P = 0;
  const post = logits.map(() => new Array<number>(V).fill(0));
  const path = new Array<number>(T).fill(0);
  for (let code = 0; code < V ** T; code++) {
    let c = code;
    for (let t = 0; t < T; t++) {
      path[t] = c % V;
      c = Math.floor(c / V);
    }
    const collapsed = collapseCtc(path, blank);
    if (collapsed.length !== label.length || collapsed.some((v, i) => v !== label[i])) continue;
    const p = path.reduce((acc, v, t) => acc * y[t]![v]!, 1);
    P += p;
    path.forEach((v, t) => (post[t]![v]! += p));
  }
  const grad = y.map((row, t) => row.map((yv, v) => (P > 0 ? yv - post[t]![v]! / P : 0)));
  return { loss: -Math.log(P), grad };
}

function randomLogits(rng: Rng, B: number, T: number, V: number): number[][][] {
  return Array.from({ length: B }, () => Array.from({ length: T }, () => Array.from({ length: V }, () => 2 * rng.normal())));
}

const CASES: { name: string; T: number; label: number[] }[] = [
  { name: 'single label', T: 3, label: [1] },
  { name: 'two labels', T: 4, label: [1, 2] },
  { name: 'repeat at the minimal length (needs the extra blank)', T: 3, label: [1, 1] },
  { name: 'repeat with slack', T: 5, label: [2, 2] },
  { name: 'three labels with a repeat', T: 5, label: [1, 2, 2] },
  { name: 'empty label (all blanks)', T: 4, label: [] },
  { name: 'label as long as the input', T: 3, label: [1, 2, 1] },
];

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`ctcLoss on ${backend}`, () => {
    beforeAll(async () => {
      await initBackend(backend);
    });

    it.each(CASES)('loss and gradient match the brute-force sum over alignments: $name', ({ T, label }) => {
      const rng = new Rng(T * 31 + label.length);
      const [x] = randomLogits(rng, 1, T, 3);
      const ref = bruteForce(x!, label);
      const before = tf.memory().numTensors;
      const logits = tf.tensor3d([x!]);
      const f = (z: tf.Tensor) => ctcLoss(z as tf.Tensor3D, [Int32Array.from(label)], [T], { reduction: 'sum' });
      const { value, grad } = tf.valueAndGrad(f)(logits);
      expect(value.dataSync()[0]).toBeCloseTo(ref.loss, 5);
      const g = grad.arraySync() as number[][][];
      for (let t = 0; t < T; t++) for (let v = 0; v < 3; v++) expect(g[0]![t]![v]).toBeCloseTo(ref.grad[t]![v]!, 5);
      tf.dispose([value, grad, logits]);
      expect(tf.memory().numTensors).toBe(before);
    });

    it('handles a padded batch: input lengths, padded label ids, and the three reductions', () => {
      const rng = new Rng(7);
      const B = 3;
      const T = 5;
      const x = randomLogits(rng, B, T, 3);
      const labels = [[1, 2], [2], [1, 1]];
      const lengths = [5, 3, 4];
      const refs = labels.map((l, b) => bruteForce(x[b]!.slice(0, lengths[b]), l));
      const before = tf.memory().numTensors;
      const logits = tf.tensor3d(x);
      const ids = tf.tensor2d([[1, 2], [2, 0], [1, 1]], [3, 2], 'int32');
      const padded = { ids, lengths: [2, 1, 2] };

      const none = ctcLoss(logits, padded, lengths, { reduction: 'none' });
      const per = Array.from(none.dataSync());
      per.forEach((l, b) => expect(l).toBeCloseTo(refs[b]!.loss, 5));

      const meanWeights = labels.map((l) => 1 / (l.length * B));
      const { value, grad } = tf.valueAndGrad((z: tf.Tensor) => ctcLoss(z as tf.Tensor3D, padded, lengths, { reduction: 'mean' }))(logits);
      const expectedMean = refs.reduce((acc, r, b) => acc + r.loss * meanWeights[b]!, 0);
      expect(value.dataSync()[0]).toBeCloseTo(expectedMean, 5);
      const g = grad.arraySync() as number[][][];
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          for (let v = 0; v < 3; v++) {
            // Frames past the input length do not take part: zero gradient.
            const want = t < lengths[b]! ? refs[b]!.grad[t]![v]! * meanWeights[b]! : 0;
            expect(g[b]![t]![v]).toBeCloseTo(want, 6);
          }
        }
      }
      const sum = ctcLoss(logits, labels.map((l) => Int32Array.from(l)), lengths, { reduction: 'sum' });
      expect(sum.dataSync()[0]).toBeCloseTo(refs.reduce((a, r) => a + r.loss, 0), 4);
      tf.dispose([none, value, grad, sum, logits, ids]);
      expect(tf.memory().numTensors).toBe(before);
    });

    it('gives +Inf (zero gradient) for impossible alignments, or 0 with zeroInfinity', () => {
      const rng = new Rng(3);
      const logits = tf.tensor3d(randomLogits(rng, 2, 3, 3));
      // [1,1] needs 3 frames (1, blank, 1) but sample 0 has 2; sample 1 is fine.
      const labels = [Int32Array.from([1, 1]), Int32Array.from([2])];
      const ok = bruteForce((logits.arraySync() as number[][][])[1]!, [2]);
      const inf = ctcLoss(logits, labels, [2, 3], { reduction: 'none' });
      expect(inf.dataSync()[0]).toBe(Infinity);
      expect(inf.dataSync()[1]).toBeCloseTo(ok.loss, 5);
      const grad = tf.grad((z: tf.Tensor) => ctcLoss(z as tf.Tensor3D, labels, [2, 3], { reduction: 'sum', zeroInfinity: true }))(logits);
      const g = grad.arraySync() as number[][][];
      expect(g[0]!.flat().every((v) => v === 0)).toBe(true);
      expect(g[1]![0]![2]).toBeCloseTo(ok.grad[0]![2]!, 5);
      const zeroed = ctcLoss(logits, labels, [2, 3], { reduction: 'sum', zeroInfinity: true });
      expect(zeroed.dataSync()[0]).toBeCloseTo(ok.loss, 5);
      tf.dispose([logits, inf, grad, zeroed]);
    });

    it('rejects labels that use the blank or lie outside the vocabulary', () => {
      const logits = tf.zeros([1, 4, 3]) as tf.Tensor3D;
      expect(() => ctcLoss(logits, [Int32Array.from([0])])).toThrow(ShapeError);
      expect(() => ctcLoss(logits, [Int32Array.from([3])])).toThrow(/label id 3/);
      expect(() => ctcLoss(logits, [Int32Array.from([1])], [9])).toThrow(/input length 9/);
      logits.dispose();
    });

    it('learns: gradient descent on free logits makes greedy decoding spell the label', () => {
      const label = textToIds('HELLO');
      const logits = tf.variable(tf.zeros([1, 16, LETTERS.length]));
      const loss = (z: tf.Tensor) => ctcLoss(z as tf.Tensor3D, [label], [16]);
      const grad = tf.grad(loss);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 60; i++) {
        const g = grad(logits);
        const next = tf.tidy(() => tf.sub(logits, tf.mul(g, 20)));
        logits.assign(next);
        tf.dispose([g, next]);
      }
      expect(tf.memory().numTensors).toBe(before);
      expect(greedyDecode(logits as unknown as tf.Tensor3D)).toEqual(['HELLO']);
      logits.dispose();
    });
  });
}

describe('greedy decoding', () => {
  it('collapses repeats and drops blanks; a blank separates double letters', () => {
    expect(collapseCtc([0, 1, 1, 0, 0, 2, 2, 0, 2, 1])).toEqual([1, 2, 2, 1]);
    expect(collapseCtc([])).toEqual([]);
    expect(collapseCtc([3, 3, 3], 3)).toEqual([]);
  });

  it('decodes logits to words with | as the word boundary', async () => {
    await initBackend('cpu');
    // H E L <b> L O | W, as one-hot rows with repeats and blanks.
    const seq = ['<blank>', 'H', 'H', 'E', 'L', '<blank>', 'L', 'O', '|', '|', 'W', '<blank>'];
    const V = LETTERS.length;
    const rows = seq.map((s) => Array.from({ length: V }, (_, v) => (LETTERS[v] === s ? 5 : 0)));
    const logits = tf.tensor3d([rows, rows]);
    const before = tf.memory().numTensors;
    expect(greedyDecode(logits, { inputLengths: [12, 8] })).toEqual(['HELLO W', 'HELLO']);
    expect(greedyDecodeIds(logits, { inputLengths: [3, 0] })).toEqual([[LETTERS.indexOf('H')], []]);
    expect(tf.memory().numTensors).toBe(before);
    logits.dispose();
  });
});
