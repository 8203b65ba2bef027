/**
 * The pretraining MaskingStrategy (span masks over feature frames, never over padding,
 * the same count in every row) and fine-tuning's channel masking.
 */
import type { Batch, MaskResult, MaskingStrategy, Rng } from '@d2v/core';
import { spanMask } from './spanMask.js';
import { framesForSamples, type ConvLayerSpec } from '../encoder.js';
import type { SpeechBatch } from '../data/source.js';

export interface SpanMaskerOptions {
  /** Paper p: probability that a frame starts a span (0.065; fairseq's mask_prob 0.65 = p x span). */
  maskProb: number;
  spanLength: number;
  minMasks: number;
}

export class SpanMasker implements MaskingStrategy {
  constructor(
    readonly convLayers: readonly ConvLayerSpec[],
    readonly opts: SpanMaskerOptions,
  ) {}

  /** Frames per row for the batch's padded length, and valid frames per row. */
  frames(batch: SpeechBatch): { length: number; valid: Int32Array } {
    const length = framesForSamples(batch.audio.shape[1], this.convLayers);
    const valid = Int32Array.from(batch.lengths, (l) => framesForSamples(l, this.convLayers));
    return { length, valid };
  }

  mask(batch: Batch, rng: Rng): MaskResult {
    const b = batch as SpeechBatch;
    const { length, valid } = this.frames(b);
    const r = spanMask(rng, { batch: b.size, length, validLengths: valid, maskProb: this.opts.maskProb, spanLength: this.opts.spanLength, minMasks: this.opts.minMasks });
    return { mask: r.mask, lossIndices: r.maskedIndices, length };
  }
}

export interface ChannelMaskOptions {
  batch: number;
  channels: number;
  /** fairseq's mask_channel_prob: spans = floor(prob x channels / spanLength + U[0,1)), so about `prob` of the channels before overlaps. */
  prob: number;
  spanLength: number;
}

/**
 * Channel masking for fine-tuning (wav2vec 2.0's mask_channel_*): per sample, spans of channels
 * zeroed at every time-step. Returns [B * channels], 1 = zeroed.
 */
export function channelMask(rng: Rng, o: ChannelMaskOptions): Uint8Array {
  if (o.prob <= 0) return new Uint8Array(o.batch * o.channels);
  const span = Math.min(o.spanLength, o.channels);
  return spanMask(rng, { batch: o.batch, length: o.channels, maskProb: o.prob / span, spanLength: span, minMasks: 0, sameCount: false }).mask;
}
