/**
 * The forward pass every speech downstream head shares (CTC, utterance classification, probes):
 * conv features -> (training: time and channel masking) -> positions -> Transformer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { disposeOutput, type DownstreamContext, type Rng } from '@d2v/core';
import type { SpeechEncoder } from './encoder.js';
import type { SpeechBatch } from './data/source.js';
import type { SpeechMaskingOptions } from './options.js';
import { spanMask } from './masking/spanMask.js';
import { channelMask } from './masking/spanMasker.js';

export interface SpeechForwardOptions {
  training: boolean;
  rng?: Rng;
  /** Span-start probability of time masking (training only). */
  maskProb?: number;
  spanLength?: number;
  /** fairseq mask_channel_prob and span (training only). */
  channelMaskProb?: number;
  channelSpanLength?: number;
  /** `hidden` is the average of the last N block outputs (0 = every block; default 1 = the last block). */
  topBlocks?: number;
}

/** A fine-tuning step's forward options: the time and channel masks of masking.finetuneStartProb and masking.channelRatio (CTC and classify alike). */
export function finetuneForward(m: SpeechMaskingOptions, rng: Rng): SpeechForwardOptions {
  return { training: true, rng, maskProb: m.finetuneStartProb, spanLength: m.spanLength, channelMaskProb: m.channelRatio, channelSpanLength: m.channelSpanLength };
}

/** Valid (unpadded) frames of each row of a batch. */
export function validFrames(encoder: SpeechEncoder, batch: SpeechBatch): Int32Array {
  return Int32Array.from(batch.lengths, (l) => encoder.frames(l));
}

/** The Transformer's output [B, T, C] and the frame padding mask [B, T] (1 = padding; absent when no row is padded). */
export function encodeUtterances(
  encoder: SpeechEncoder,
  transformer: DownstreamContext['transformer'],
  batch: SpeechBatch,
  o: SpeechForwardOptions,
): { hidden: tf.Tensor3D; paddingMask?: tf.Tensor2D } {
  return tf.tidy(() => {
    const ctx = { training: o.training, rng: o.rng };
    const f = encoder.features(batch, ctx);
    const [B, T, C] = f.features.shape;
    let features = f.features;
    let mask: tf.Tensor2D | undefined;
    if (o.training && o.rng) {
      if ((o.maskProb ?? 0) > 0) {
        // Fine-tuning needs no equal count per row (no gather of masked steps).
        const m = spanMask(o.rng, { batch: B, length: T, validLengths: validFrames(encoder, batch), maskProb: o.maskProb!, spanLength: o.spanLength ?? 10, minMasks: 0, sameCount: false });
        mask = tf.tensor2d(m.mask, [B, T], 'float32');
      }
      if ((o.channelMaskProb ?? 0) > 0) {
        const cm = channelMask(o.rng, { batch: B, channels: C, prob: o.channelMaskProb!, spanLength: o.channelSpanLength ?? 64 });
        features = tf.mul(features, tf.reshape(tf.sub(1, tf.tensor2d(cm, [B, C], 'float32')), [B, 1, C])) as tf.Tensor3D;
      }
    }
    const e = encoder.embed({ features, paddingMask: f.paddingMask }, { ...ctx, mask });
    const depth = transformer.blocks.length;
    const top = (o.topBlocks ?? 1) <= 0 ? depth : Math.min(o.topBlocks ?? 1, depth);
    const out = transformer.forward(e.x, { paddingMask: e.paddingMask, rng: o.training ? o.rng : undefined, collect: top > 1 });
    let hidden = out.output;
    if (top > 1) {
      hidden = tf.div(tf.addN(out.blocks.slice(-top)), top) as tf.Tensor3D;
      // Collected block outputs outlive tidy.
      disposeOutput(out);
    }
    return e.paddingMask ? { hidden, paddingMask: e.paddingMask } : { hidden };
  });
}
