/**
 * The pretraining MaskingStrategy (span masks over feature frames, never over padding,
 * the same count in every row) and fine-tuning's channel masking.
 *
 * objective.version 1: the count per row is the batch's smallest (wav2vec 2.0 / data2vec).
 * objective.version 2 (`exactFraction` set): exactly floor(exactFraction x T) frames in every row
 * of every call, as core needs for several masked copies of one batch; rows must not be padded.
 */
import { ShapeError, type MaskResult, type MaskingStrategy, type Rng } from '@d2v/core';
import { spanMask } from './spanMask.js';
import { framesForSamples, type ConvLayerSpec } from '../encoder.js';
import type { SpeechBatch } from '../data/source.js';

export interface SpanMaskerOptions {
  /** Paper p: probability that a frame starts a span (0.065; fairseq's mask_prob 0.65 = p x span). */
  maskProb: number;
  spanLength: number;
  minMasks: number;
  /**
   * objective.version 2: mask exactly floor(exactFraction x T) frames in every row (data2vec 2.0:
   * 0.5, with maskProb 0.11 and spanLength 5). Undefined = version 1 (the batch's smallest count).
   */
  exactFraction?: number;
}

/** Frames masked per row at T frames for a fraction (a small epsilon keeps 0.29 x 100 at 29). */
export function exactMaskCount(frames: number, fraction: number): number {
  return Math.floor(fraction * frames + 1e-9);
}

export class SpanMasker implements MaskingStrategy<SpeechBatch> {
  constructor(
    readonly convLayers: readonly ConvLayerSpec[],
    readonly opts: SpanMaskerOptions,
  ) {
    const f = opts.exactFraction;
    if (f !== undefined && !(f > 0 && f < 1)) throw new RangeError(`SpanMasker: exactFraction must be in (0, 1) (got ${f})`);
  }

  /** Frames per row for the batch's padded length, and valid frames per row. */
  frames(batch: SpeechBatch): { length: number; valid: Int32Array } {
    const length = framesForSamples(batch.audio.shape[1], this.convLayers);
    const valid = Int32Array.from(batch.lengths, (l) => framesForSamples(l, this.convLayers));
    return { length, valid };
  }

  mask(b: SpeechBatch, rng: Rng): MaskResult<SpeechBatch> {
    const { length, valid } = this.frames(b);
    const f = this.opts.exactFraction;
    let exactCount: number | undefined;
    if (f !== undefined) {
      const row = valid.findIndex((n) => n < length);
      if (row >= 0) {
        throw new ShapeError(
          `SpanMasker: objective.version 2 needs equal-length rows (pretraining crops every batch to its shortest utterance), but row ${row} has ${valid[row]} of ${length} frames`,
        );
      }
      exactCount = exactMaskCount(length, f);
    }
    const r = spanMask(rng, { batch: b.size, length, validLengths: valid, maskProb: this.opts.maskProb, spanLength: this.opts.spanLength, minMasks: this.opts.minMasks, exactCount });
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
