import type { Batch, MaskingStrategy, MaskResult, Rng } from '@d2v/core';
import { blockMaskBatch, type BlockMaskOptions } from './blockMask.js';

/** The MaskingStrategy of @d2v/vision: BEiT blocks on the patch grid; loss at masked patches. */
export class BlockMasker implements MaskingStrategy {
  constructor(
    readonly opts: BlockMaskOptions,
    /** 1 when a CLS token precedes the patches in the Transformer input. */
    readonly offset: number,
  ) {}
  mask(batch: Batch, rng: Rng): MaskResult {
    const { mask, maskedIndices } = blockMaskBatch(rng, batch.size, this.opts, this.offset);
    return { mask, lossIndices: maskedIndices, length: this.opts.gridH * this.opts.gridW };
  }
}
