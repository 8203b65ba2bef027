/**
 * data2vec text masking as core MaskingStrategies.
 *
 * objective.version 1 (BertMasker): BERT corruption of the token ids (bertMask) gives the student a
 * corrupted copy of the batch; the teacher keeps the original. No mask tensor is used: the `<mask>`
 * token's own embedding plays the role of the mask embedding.
 *
 * objective.version 2 (RandomMasker): data2vec 2.0's random masking (randomMask) of exactly
 * floor(prob x T) positions per row; core drops the masked positions from the student's input.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MaskingStrategy, MaskResult, Rng } from '@d2v/core';
import { bertMask, type BertMaskOptions } from './masking/bertMask.js';
import { randomMask } from './masking/randomMask.js';
import type { TextBatch } from './batch.js';

export type TextMaskOptions = Omit<BertMaskOptions, 'batch' | 'length'>;

export class BertMasker implements MaskingStrategy<TextBatch> {
  constructor(readonly options: TextMaskOptions) {}

  mask(b: TextBatch, rng: Rng): MaskResult<TextBatch> {
    const r = bertMask(rng, b.ids, { ...this.options, batch: b.size, length: b.length });
    const tokens = tf.tensor2d(r.input, [b.size, b.length], 'int32');
    // The padding mask is shared with the original batch, which owns it.
    const studentBatch: TextBatch = { ...b, tokens, ids: r.input, dispose: () => tokens.dispose() };
    return { lossIndices: r.maskedIndices, length: b.length, studentBatch };
  }
}

/**
 * data2vec 2.0 text masking (objective.version 2): `prob` of the positions of every row (0.48 in
 * the paper), uniformly at random, the same count in every row of every call. Returns a mask and
 * no corrupted batch: the student encodes only the visible tokens.
 */
export class RandomMasker implements MaskingStrategy<TextBatch> {
  constructor(readonly prob: number) {
    if (!(prob > 0 && prob < 1)) throw new RangeError(`RandomMasker: prob must be in (0, 1) (got ${prob})`);
  }

  mask(b: TextBatch, rng: Rng): MaskResult<TextBatch> {
    const T = b.length;
    const padded = b.lengths !== undefined && b.lengths.some((n) => n < T);
    const r = randomMask(rng, { batch: b.size, length: T, prob: this.prob, validLengths: padded ? b.lengths : undefined });
    return { mask: r.mask, lossIndices: r.maskedIndices, length: T };
  }
}
