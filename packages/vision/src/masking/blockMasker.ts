import type { Batch, MaskingStrategy, MaskResult, Rng } from '@d2v/core';
import { blockMaskBatch, maskBatch, type BlockMaskOptions } from './blockMask.js';
import { inverseBlockMask, inverseMaskedCount, validateInverseBlockMask, type InverseBlockMaskOptions } from './inverseBlockMask.js';

/** The MaskingStrategy of @d2v/vision: BEiT blocks on the patch grid; loss at masked patches. Any batch: only its size is read. */
export class BlockMasker<B extends Batch = Batch> implements MaskingStrategy<B> {
  constructor(
    readonly opts: BlockMaskOptions,
    /** 1 when a CLS token precedes the patches in the Transformer input. */
    readonly offset: number,
  ) {}
  mask(batch: B, rng: Rng): MaskResult<B> {
    const { mask, maskedIndices } = blockMaskBatch(rng, batch.size, this.opts, this.offset);
    return { mask, lossIndices: maskedIndices, length: this.opts.gridH * this.opts.gridW };
  }
}

/**
 * The data2vec 2.0 (objective.version 2) MaskingStrategy: inverse block masking (visible 3x3
 * islands, 80% masked) with the same masked count in every image; loss at masked patches.
 */
export class InverseBlockMasker<B extends Batch = Batch> implements MaskingStrategy<B> {
  constructor(
    readonly opts: InverseBlockMaskOptions,
    /** 1 when a CLS token precedes the patches in the Transformer input. */
    readonly offset: number,
  ) {
    // Fail at createMasker time, before a model is built, rather than on the first batch.
    validateInverseBlockMask(opts);
  }
  mask(batch: B, rng: Rng): MaskResult<B> {
    const n = this.opts.gridH * this.opts.gridW;
    const { mask, maskedIndices } = maskBatch(rng, batch.size, n, inverseMaskedCount(this.opts), (r) => inverseBlockMask(r, this.opts), this.offset);
    return { mask, lossIndices: maskedIndices, length: n };
  }
}
