/**
 * The wav2vec 2.0 / data2vec front end.
 *
 * features(): raw 16 kHz audio [B, L] -> a stack of strided convolutions (no bias), each
 *   followed by layer norm over channels (with affine) and GELU (fairseq's `layer_norm`
 *   extractor mode) -> layer norm -> Linear to the Transformer width. With the paper's
 *   7 layers (kernels 10,3,3,3,3,2,2, strides 5,2,2,2,2,2,2) one frame covers 400 samples
 *   (25 ms) and frames are 320 samples (20 ms) apart: 50 frames per second.
 * embed(): input dropout (student only), masked frames replaced by the learned mask embedding, then the convolutional
 *   positional embedding (grouped 'same' convs, each with parameter-less layer norm and
 *   GELU) added to the input, layer norm (post-LN Transformer), dropout.
 *
 * Everything here is shared by student and teacher (data2vec speech EMA-tracks only the
 * Transformer), so the teacher's targets come from exactly these features, unmasked.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  Module,
  Linear,
  LayerNorm,
  Rng,
  ConfigError,
  gelu,
  dropout,
  layerNorm,
  applyMaskEmbedding,
  convOutputLength,
  groupedConvSame,
  type Embedded,
  type FeatureEncoder,
  type Features,
  type StepContext,
} from '@d2v/core';
import { conv1d } from './ops/conv1d.js';
import type { SpeechBatch } from './data/source.js';

export interface ConvLayerSpec {
  channels: number;
  kernel: number;
  stride: number;
}

export interface SpeechEncoderConfig {
  /** The feature encoder's convolutions, first (on the waveform) first. */
  convLayers: ConvLayerSpec[];
  /** Transformer width. */
  dim: number;
  /** Convolutional positional embedding: layers, kernel, groups (0 layers = none). */
  posConvLayers: number;
  posConvKernel: number;
  posConvGroups: number;
  /** Dropout on the Transformer input (after the positional embedding and layer norm). */
  dropout: number;
  /** Dropout on the projected features before masking (fairseq dropout_input). */
  dropoutInput: number;
}

/** The paper's (wav2vec 2.0 Base / data2vec Base) feature encoder: 7 convolutions, 512 channels. */
export const PAPER_CONV_LAYERS: ConvLayerSpec[] = [
  { channels: 512, kernel: 10, stride: 5 },
  ...Array.from({ length: 4 }, () => ({ channels: 512, kernel: 3, stride: 2 })),
  ...Array.from({ length: 2 }, () => ({ channels: 512, kernel: 2, stride: 2 })),
];

/** Builds layer specs from parallel lists (the config's speech.convChannels / convKernels / convStrides). */
export function convLayersFrom(channels: number[], kernels: number[], strides: number[]): ConvLayerSpec[] {
  if (channels.length === 0 || channels.length !== kernels.length || channels.length !== strides.length) {
    throw new ConfigError(
      `speech.convChannels, convKernels and convStrides must be non-empty lists of one length (got ${channels.length}, ${kernels.length}, ${strides.length})`,
      'speech.convChannels',
    );
  }
  return channels.map((c, i) => {
    const k = kernels[i]!;
    const s = strides[i]!;
    if (![c, k, s].every((v) => Number.isInteger(v) && v >= 1)) {
      throw new ConfigError(`conv layer ${i}: channels, kernel and stride must be positive integers (got ${c}, ${k}, ${s})`, 'speech.convChannels');
    }
    return { channels: c, kernel: k, stride: s };
  });
}

/** Feature frames for `samples` input samples (the wav2vec 2.0 length formula, layer by layer). */
export function framesForSamples(samples: number, layers: readonly ConvLayerSpec[]): number {
  let n = samples;
  for (const l of layers) n = convOutputLength(n, l.kernel, l.stride);
  return n;
}

/** Samples between frames (product of strides) and samples one frame sees (receptive field). */
export function frameGeometry(layers: readonly ConvLayerSpec[]): { hop: number; receptiveField: number } {
  let hop = 1;
  let field = 1;
  for (const l of layers) {
    field += (l.kernel - 1) * hop;
    hop *= l.stride;
  }
  return { hop, receptiveField: field };
}

/** Kaiming normal (fan in), as PyTorch initialises wav2vec 2.0's conv weights. */
function kaimingNormal(shape: number[], fanIn: number, seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed);
}

/** The convolutional feature encoder: waveform [B, L] -> [B, T, C_last]. */
export class ConvFeatureExtractor extends Module {
  readonly weights: tf.Variable[] = [];
  readonly norms: LayerNorm[] = [];

  constructor(
    readonly layers: readonly ConvLayerSpec[],
    seed: number,
  ) {
    super();
    const rng = new Rng(seed);
    let cin = 1;
    layers.forEach((l, i) => {
      const fanIn = l.kernel * cin;
      this.weights.push(this.param(`conv.${i}.weight`, () => kaimingNormal([fanIn, l.channels], fanIn, rng.seed())));
      this.norms.push(this.child(`conv.${i}.norm`, new LayerNorm(l.channels)));
      cin = l.channels;
    });
  }

  apply(audio: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, len] = audio.shape;
      let x = tf.reshape(audio, [b, len, 1]) as tf.Tensor3D;
      this.layers.forEach((l, i) => {
        if (x.shape[1] < l.kernel) {
          throw new ConfigError(`audio of ${len} samples is too short for the feature encoder (conv layer ${i} gets ${x.shape[1]} frames, kernel ${l.kernel})`, 'data.minSampleLength');
        }
        x = gelu(this.norms[i]!.apply(conv1d(x, this.weights[i] as tf.Tensor2D, l.kernel, l.stride))) as tf.Tensor3D;
      });
      return x;
    });
  }
}

/** Convolutional relative positions: grouped 'same' convs with parameter-less layer norm and GELU. */
export class PositionalConv extends Module {
  readonly weights: tf.Variable[] = [];
  readonly biases: tf.Variable[] = [];

  constructor(
    readonly dim: number,
    readonly layers: number,
    readonly kernel: number,
    readonly groups: number,
    seed: number,
  ) {
    super();
    checkPosConvGroups(dim, groups);
    const rng = new Rng(seed);
    const cg = dim / groups;
    // wav2vec 2.0's init for its positional conv: normal with std sqrt(4 / (kernel * dim)).
    const std = Math.sqrt(4 / (kernel * dim));
    for (let i = 0; i < layers; i++) {
      this.weights.push(this.param(`${i}.weight`, () => tf.randomNormal([groups, kernel * cg, cg], 0, std, 'float32', rng.seed())));
      this.biases.push(this.param(`${i}.bias`, () => tf.zeros([dim])));
    }
  }

  /** `paddingMask` [B, T] (1 = padding): padded frames are zeroed before every layer, so they never reach real frames. */
  apply(x: tf.Tensor3D, paddingMask?: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const keep = paddingMask ? tf.expandDims(tf.sub(1, paddingMask), -1) : undefined;
      let y = x;
      for (let i = 0; i < this.layers; i++) {
        if (keep) y = tf.mul(y, keep);
        y = groupedConvSame(y, this.weights[i] as tf.Tensor3D, this.biases[i] as tf.Tensor1D, this.kernel);
        y = gelu(layerNorm(y)) as tf.Tensor3D;
      }
      return y;
    });
  }
}

export class SpeechEncoder extends Module implements FeatureEncoder<SpeechBatch> {
  readonly extractor: ConvFeatureExtractor;
  readonly featureNorm: LayerNorm;
  readonly proj: Linear;
  readonly maskEmb: tf.Variable;
  readonly posConv?: PositionalConv;
  readonly inputNorm: LayerNorm;

  constructor(
    readonly cfg: SpeechEncoderConfig,
    seed: number,
  ) {
    super();
    const rng = new Rng(seed);
    const last = cfg.convLayers.at(-1)!.channels;
    this.extractor = this.child('feature_extractor', new ConvFeatureExtractor(cfg.convLayers, rng.seed()));
    this.featureNorm = this.child('layer_norm', new LayerNorm(last));
    this.proj = this.child('post_extract_proj', new Linear(last, cfg.dim, rng.seed()));
    // fairseq draws the mask embedding from U(0, 1).
    this.maskEmb = this.param('mask_emb', () => tf.randomUniform([cfg.dim], 0, 1, 'float32', rng.seed()), { decay: false });
    if (cfg.posConvLayers > 0) this.posConv = this.child('pos_conv', new PositionalConv(cfg.dim, cfg.posConvLayers, cfg.posConvKernel, cfg.posConvGroups, rng.seed()));
    this.inputNorm = this.child('encoder_norm', new LayerNorm(cfg.dim));
  }

  /** Frames for `samples` input samples. */
  frames(samples: number): number {
    return framesForSamples(samples, this.cfg.convLayers);
  }

  /** Projected features [B, T, dim] and the frame padding mask [B, T] (1 = padding) when rows differ in length. */
  features(b: SpeechBatch, _ctx: StepContext): Features {
    const len = b.audio.shape[1];
    const T = this.frames(len);
    const valid = Array.from(b.lengths, (l) => this.frames(l));
    const paddingMask = valid.some((v) => v < T) ? frameMask(valid, T) : undefined;
    // No dropout here: the same features feed the teacher (see Data2VecPretrainTask); dropoutInput is in embed().
    const features = tf.tidy(() => this.proj.apply(this.featureNorm.apply(this.extractor.apply(b.audio))) as tf.Tensor3D);
    return { features, paddingMask };
  }

  embed(f: Features, ctx: StepContext & { mask?: tf.Tensor2D }): Embedded {
    const x = tf.tidy(() => {
      let h: tf.Tensor3D = f.features;
      // fairseq's dropout_input: student side only, before masking.
      if (ctx.training && ctx.rng && this.cfg.dropoutInput > 0) h = dropout(h, this.cfg.dropoutInput, ctx.rng.seed()) as tf.Tensor3D;
      if (ctx.mask) h = applyMaskEmbedding(h, ctx.mask, this.maskEmb) as tf.Tensor3D;
      if (this.posConv) {
        // Padded frames must not leak into real ones through the positional convolution.
        h = tf.add(h, this.posConv.apply(h, f.paddingMask));
      }
      h = this.inputNorm.apply(h) as tf.Tensor3D;
      if (ctx.training && ctx.rng && this.cfg.dropout > 0) h = dropout(h, this.cfg.dropout, ctx.rng.seed()) as tf.Tensor3D;
      return h;
    });
    return { x, paddingMask: f.paddingMask };
  }
}

/** [B, T] float mask, 1 at frames t >= valid[b]. */
export function frameMask(valid: readonly number[], T: number): tf.Tensor2D {
  const m = new Float32Array(valid.length * T);
  valid.forEach((v, b) => m.fill(1, b * T + Math.min(v, T), (b + 1) * T));
  return tf.tensor2d(m, [valid.length, T]);
}

/** The positional convolution splits model.dim into speech.posConvGroups groups. */
export function checkPosConvGroups(dim: number, groups: number): void {
  if (dim % groups !== 0) throw new ConfigError(`model.dim (${dim}) must be divisible by speech.posConvGroups (${groups})`, 'speech.posConvGroups');
}
