/**
 * data2vec text masking as a core MaskingStrategy: BERT corruption of the
 * token ids (bertMask) gives the student a corrupted copy of the batch; the
 * teacher keeps the original. No mask tensor is used: the `<mask>` token's
 * own embedding plays the role of the mask embedding.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { MaskingStrategy, MaskResult, Batch, Rng } from '@d2v/core';
import { bertMask, type BertMaskOptions } from './masking/bertMask.js';
import type { TextBatch } from './batch.js';

export type TextMaskOptions = Omit<BertMaskOptions, 'batch' | 'length'>;

export class BertMasker implements MaskingStrategy {
  constructor(readonly options: TextMaskOptions) {}

  mask(batch: Batch, rng: Rng): MaskResult {
    const b = batch as TextBatch;
    const r = bertMask(rng, b.ids, { ...this.options, batch: b.size, length: b.length });
    const tokens = tf.tensor2d(r.input, [b.size, b.length], 'int32');
    // The padding mask is shared with the original batch, which owns it.
    const studentBatch: TextBatch = { ...b, tokens, ids: r.input, dispose: () => tokens.dispose() };
    return { lossIndices: r.maskedIndices, length: b.length, studentBatch };
  }
}
