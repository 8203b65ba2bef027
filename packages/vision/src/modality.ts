/**
 * @d2v/vision: data2vec for images (ViT, BEiT block masking, official-code
 * targets: layer-normed block outputs of the top K blocks, layer norm again on
 * the average, Smooth L1 with beta 2, EMA of the whole student incl. patch embedding).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  quickPreset,
  trainLinearProbe,
  accuracyOf,
  ConfigError,
  createDownstreamTask,
  type Modality,
  type DownstreamContext,
  type DownstreamTask,
  type FeatureEncoder,
  type PresetsOf,
  type ProbeData,
} from '@d2v/core';
import { PatchEncoder, checkPatchGrid } from './encoder.js';
import { visionHf } from './hf.js';
import { BlockMasker, InverseBlockMasker } from './masking/blockMasker.js';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD, checkNormalisation } from './data/augment.js';
import { ImageDataSource, makeVisionBatch, type VisionBatch } from './batch.js';
import { batching } from './options.js';
import { schema, type VisionConfig, type VisionPreset } from './schema.js';
import { loadImageDataset, InMemoryImageDataset, type ImageDataset } from './data/dataset.js';
import { bundledFashionMnistDir } from './data/paths.js';
import { CLASSIFIER, ClassifierHead, applyLayerDecay, pooledFeatures, probeFeatures, smoothedCrossEntropy } from './classifier.js';
import { visionInference } from './inference.js';

/** What vision's evaluations and fine-tuning get: the vision config and an encoder of vision batches. */
type VisionContext = DownstreamContext<VisionConfig, FeatureEncoder<VisionBatch>>;

const tinyModel = { dim: 192, depth: 6, heads: 3, ffnDim: 768, norm: 'pre', finalNorm: true, dropout: 0, attentionDropout: 0, layerDrop: 0, layerScale: 0.1 } satisfies VisionPreset['model'];

/** The teacher of `tiny` and `tiny-v2`: an EMA of encoder + ViT that follows within ~100 updates. */
const tinyTeacher = { emaStart: 0.99, emaEnd: 0.999, emaAnnealSteps: 400, emaEncoder: true, collapseCheckAfter: 200 } satisfies VisionPreset['objective'];

/** What `tiny` and `tiny-v2` share: the ViT, data, schedule length and fine-tuning. */
const tinyRun = {
  model: tinyModel,
  data: { mean: FASHION_MNIST_MEAN, std: FASHION_MNIST_STD, cropScale: [0.35, 1] },
  train: { steps: 400, batchSize: 64, logEvery: 10, checkpointEvery: 100, keepLast: 2 },
  finetune: { lr: 1e-3, steps: 300, batchSize: 64, warmupSteps: 30, weightDecay: 0.05, layerDecay: 0.75, labelSmoothing: 0.1 },
} satisfies VisionPreset;

/**
 * data2vec 2.0 on the same data and ViT as `tiny`: the student encodes the 9 visible patches of
 * each of 4 masked copies (inverse blocks, 80% masked), a 3-layer 2-D conv decoder predicts the
 * other 40; targets are the teacher's instance-normed FFN outputs of the top 4 blocks, then a
 * layer norm; squared error x 1/sqrt(192). The paper's 16 copies, 6 decoder layers of 768 and
 * EMA 0.9998 -> 0.99999 are sized for 8 GPUs; this is sized for 2 CPU cores and minutes.
 */
const tinyV2 = {
  ...tinyRun,
  vision: { imageSize: 28, patchSize: 4, channels: 1, positions: 'learned', cls: false },
  masking: { ratio: 0.8, inverseBlockSize: 3, inverseBlockAdjust: 0.07 },
  objective: {
    version: 2,
    clones: 4,
    maskNoiseStd: 0.01,
    decoder: { conv: '2d', dim: 192, kernel: 3, layers: 3, groups: 16, residual: true, inputDropout: 0 },
    topK: 4,
    targetSource: 'ffn',
    instanceNormTargetLayer: true,
    layerNormTargetLayer: false,
    layerNormTargets: true,
    lossBeta: 0,
    lossScale: null,
    headLayers: 1,
    ...tinyTeacher,
  },
  optim: { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05, clipNorm: 4, schedule: 'cosine', warmupSteps: 40, finalLrScale: 0.01 },
} satisfies VisionPreset;

const basePresets = {
  /** 28x28 grey Fashion-MNIST, patch 4 (49 patches), 6 x 192: trains on a 2-core CPU. */
  tiny: {
    ...tinyRun,
    vision: { imageSize: 28, patchSize: 4, channels: 1, positions: 'learned', cls: false },
    objective: {
      topK: 3,
      targetSource: 'block',
      layerNormTargetLayer: true,
      layerNormTargets: true,
      lossBeta: 2,
      lossScale: 1 / 192,
      headLayers: 1,
      ...tinyTeacher,
    },
    optim: { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, clipNorm: 3, schedule: 'cosine', warmupSteps: 40, finalLrScale: 0.01 },
  },
  /** data2vec 2.0 on the same data and ViT as `tiny` (see `tinyV2`). */
  'tiny-v2': tinyV2,
  /**
   * `tiny-v2` with a CLS token: the one change that makes it a Hugging Face Data2VecVisionModel
   * (`d2v export --format hf`), which always prepends one. The student keeps the CLS among its
   * visible tokens; targets and decoder cover the patches only.
   */
  'hf-tiny': { ...tinyV2, vision: { ...tinyV2.vision, cls: true } },
  /** data2vec ViT-B/16 on 224 px images (ImageNet recipe). */
  'paper-base': {
    model: { dim: 768, depth: 12, heads: 12, ffnDim: 3072, norm: 'pre', finalNorm: true, dropout: 0, attentionDropout: 0, layerDrop: 0, layerScale: 1e-4 },
    vision: { imageSize: 224, patchSize: 16, channels: 3, positions: 'relative', cls: true },
    objective: {
      topK: 6,
      targetSource: 'block',
      layerNormTargetLayer: true,
      layerNormTargets: true,
      lossBeta: 2,
      lossScale: 1 / 768,
      headLayers: 1,
      emaStart: 0.9998,
      emaEnd: 0.9998,
      emaAnnealSteps: 0,
      emaEncoder: true,
    },
    optim: { lr: 2e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, clipNorm: 3, schedule: 'cosine', warmupSteps: 6255, finalLrScale: 0 },
    train: { steps: 500400, batchSize: 2048 },
    finetune: { lr: 4e-3, steps: 62500, batchSize: 1024, warmupSteps: 12500, weightDecay: 0.05, layerDecay: 0.65, labelSmoothing: 0.1 },
  },
} satisfies PresetsOf<typeof schema>;

/** Updates of the `quick` preset: tiny-v2 takes about 3.4 s per update on 2 cores. */
const QUICK_STEPS = 40;

export const presets = {
  ...basePresets,
  /** `tiny-v2` for a first look in about three minutes: QUICK_STEPS updates, schedule and EMA anneal shortened with them. */
  quick: quickPreset(basePresets['tiny-v2'], QUICK_STEPS),
};

const datasetCache = new Map<string, Promise<ImageDataset>>();

/** Loads (once per process) the train or test split named by data.path, checking it fits the config. */
export async function loadSplit(c: VisionConfig, split: 'train' | 'test'): Promise<ImageDataset> {
  const v = c.vision;
  const d = c.data;
  const path = d.path || bundledFashionMnistDir();
  const key = `${path}|${split}|${v.channels}|${v.imageSize}|${d.skipBad}`;
  if (!datasetCache.has(key)) {
    datasetCache.set(key, loadImageDataset(path, split, { size: v.imageSize, channels: v.channels === 1 ? 1 : 3, skipBad: d.skipBad }));
  }
  const ds = await datasetCache.get(key)!;
  if (ds.channels !== v.channels) {
    throw new ConfigError(`${ds.source} has ${ds.channels} channel(s) but vision.channels is ${v.channels}`, 'vision.channels');
  }
  if (ds.skipped.length) {
    console.error(`d2v: skipped ${ds.skipped.length} unreadable image(s) in ${path} (first: ${ds.skipped[0]!.file}: ${ds.skipped[0]!.reason}); a training run lists them all in its skipped-files.tsv`);
  }
  return ds;
}

/** Cross-field checks of the vision options, run while the config is resolved. */
function validateConfig(c: VisionConfig): void {
  const v = c.vision;
  const d = c.data;
  checkPatchGrid(v.imageSize, v.patchSize);
  if (v.channels !== 1 && v.channels !== 3) throw new ConfigError(`vision.channels must be 1 (grey) or 3 (RGB), got ${v.channels}`, 'vision.channels');
  checkNormalisation(v.channels, d.mean, d.std);
  const [s0, s1] = d.cropScale;
  if (d.cropScale.length !== 2 || !(s0! <= s1!)) throw new ConfigError(`data.cropScale must be two fractions, smallest first (got ${d.cropScale.join(', ')})`, 'data.cropScale');
  const grid = v.imageSize / v.patchSize;
  const m = c.masking;
  if (c.objective.version === 2 && m.inverseBlockSize > grid) {
    throw new ConfigError(`masking.inverseBlockSize (${m.inverseBlockSize}) exceeds the ${grid}x${grid} patch grid`, 'masking.inverseBlockSize');
  }
  const top = c.probe.topBlocks;
  if (top > c.model.depth) throw new ConfigError(`probe.topBlocks (${top}) exceeds model.depth (${c.model.depth})`, 'probe.topBlocks');
}

function encoderConfig(c: VisionConfig) {
  const v = c.vision;
  return { imageSize: v.imageSize, patchSize: v.patchSize, channels: v.channels, dim: c.model.dim, heads: c.model.heads, positions: v.positions, cls: v.cls };
}

/** Frozen-encoder features of a whole split, in eval mode (no augmentation). */
export function extractFeatures(ctx: VisionContext, ds: ImageDataset, limit = 0): ProbeData {
  const c = ctx.config;
  const n = limit > 0 ? Math.min(limit, ds.length) : ds.length;
  const dim = c.model.dim;
  const features = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  ctx.encoder.setTraining(false);
  ctx.transformer.setTraining(false);
  const opts = batching(c);
  for (let s = 0; s < n; s += 256) {
    const idx = Array.from({ length: Math.min(256, n - s) }, (_, k) => s + k);
    const batch = makeVisionBatch(ds, idx, opts);
    const f = probeFeatures(ctx.encoder, ctx.transformer, batch, c.probe.topBlocks, c.vision.cls);
    features.set(f.dataSync(), s * dim);
    labels.set(batch.labelIds, s);
    f.dispose();
    batch.dispose();
  }
  return { features, labels };
}

async function createFinetuneTask(ctx: VisionContext): Promise<DownstreamTask> {
  const c = ctx.config;
  const f = c.finetune;
  let train = await loadSplit(c, 'train');
  if (f.labelsPerClass > 0 && train instanceof InMemoryImageDataset) train = train.subsetPerClass(f.labelsPerClass);
  const test = await loadSplit(c, 'test');
  const head = new ClassifierHead(c.model.dim, train.numClasses, c.seed + 17);
  applyLayerDecay(ctx, f.layerDecay);
  const cls = c.vision.cls;
  ctx.log(`d2v: fine-tuning on ${train.length} labelled images (${train.source}), testing on ${test.length}`);
  return createDownstreamTask({
    ctx,
    head: { name: CLASSIFIER, module: head, label: 'classifier head' },
    data: new ImageDataSource(train, { ...batching(c), augment: { ...batching(c).augment, randomResizedCrop: false } }, c.seed, true),
    loss: (batch, rng) => smoothedCrossEntropy(head.apply(pooledFeatures(ctx.encoder, ctx.transformer, batch, true, rng, cls)), batch.labels, train.numClasses, f.labelSmoothing),
    metrics() {
      const opts = batching(c);
      const preds = new Int32Array(test.length);
      const labels = new Int32Array(test.length);
      for (let s = 0; s < test.length; s += 256) {
        const idx = Array.from({ length: Math.min(256, test.length - s) }, (_, k) => s + k);
        const batch = makeVisionBatch(test, idx, opts);
        const p = tf.tidy(() => tf.argMax(head.apply(pooledFeatures(ctx.encoder, ctx.transformer, batch, false, undefined, cls)), 1));
        preds.set(p.dataSync(), s);
        labels.set(batch.labelIds, s);
        p.dispose();
        batch.dispose();
      }
      return { accuracy: accuracyOf(preds, labels), testImages: test.length };
    },
    unit: 'img',
    describe: () => `ViT classifier: ${c.model.depth} x ${c.model.dim}, ${train.numClasses} classes, layer decay ${f.layerDecay}`,
    skippedFiles: () => [...train.skipped, ...test.skipped],
  });
}

async function linearProbe(ctx: VisionContext): Promise<Record<string, number>> {
  const c = ctx.config;
  const p = c.probe;
  const train = extractFeatures(ctx, await loadSplit(c, 'train'), p.trainImages);
  const test = extractFeatures(ctx, await loadSplit(c, 'test'), p.testImages);
  const r = trainLinearProbe(train, test, { dim: c.model.dim, classes: (await loadSplit(c, 'train')).numClasses, epochs: p.epochs, lr: p.lr, batchSize: 256, weightDecay: p.weightDecay, seed: c.seed });
  ctx.log(`d2v: linear probe on ${train.labels.length} train / ${test.labels.length} test images: test accuracy ${(100 * r.testAccuracy).toFixed(2)}%`);
  return { accuracy: r.testAccuracy, trainAccuracy: r.trainAccuracy, trainImages: train.labels.length, testImages: test.labels.length };
}

/** Baseline: the same linear probe on raw (normalised) pixels. */
async function pixelProbe(ctx: VisionContext): Promise<Record<string, number>> {
  const c = ctx.config;
  const p = c.probe;
  const take = async (split: 'train' | 'test', limit: number): Promise<ProbeData> => {
    const ds = await loadSplit(c, split);
    const n = limit > 0 ? Math.min(limit, ds.length) : ds.length;
    const b = makeVisionBatch(ds, [...Array(n).keys()], batching(c));
    const out = { features: b.patches.dataSync() as Float32Array, labels: b.labelIds };
    b.dispose();
    return out;
  };
  const train = await take('train', p.trainImages);
  const test = await take('test', p.testImages);
  const dim = train.features.length / train.labels.length;
  const r = trainLinearProbe(train, test, { dim, classes: (await loadSplit(c, 'train')).numClasses, epochs: p.epochs, lr: p.lr, batchSize: 256, weightDecay: p.weightDecay, seed: c.seed });
  return { accuracy: r.testAccuracy, trainAccuracy: r.trainAccuracy, trainImages: train.labels.length, testImages: test.labels.length };
}

export const modality: Modality<VisionBatch, typeof schema, PatchEncoder> = {
  name: 'vision',
  description: 'data2vec for images: ViT patches, BEiT block masking, Fashion-MNIST bundled',
  schema,
  presets,
  // data2vec 2.0 learns better features per CPU-minute here (README, Evidence).
  defaultPreset: 'tiny-v2',
  validateConfig,
  createEncoder: (c, seed) => new PatchEncoder(encoderConfig(c), seed),
  createMasker: (c) => {
    const v = c.vision;
    const m = c.masking;
    const g = v.imageSize / v.patchSize;
    // data2vec 2.0 keeps small visible blocks and masks the rest; 1.0 masks BEiT blocks.
    if (c.objective.version === 2) {
      return new InverseBlockMasker({ gridH: g, gridW: g, maskRatio: m.ratio, blockSize: m.inverseBlockSize, adjust: m.inverseBlockAdjust }, v.cls ? 1 : 0);
    }
    return new BlockMasker({ gridH: g, gridW: g, maskRatio: m.ratio, minBlockPatches: m.minBlockPatches, minAspect: m.minAspect }, v.cls ? 1 : 0);
  },
  createData: async (c, split) => new ImageDataSource(await loadSplit(c, split === 'test' ? 'test' : 'train'), batching(c), c.seed, split === 'train'),
  createFinetuneTask,
  evaluations: { probe: linearProbe, pixels: pixelProbe },
  hf: visionHf,
  inference: visionInference,
  // `d2v pretrain` ends with this probe on 1000 + 500 of the bundled images (~20 s of CPU per encoder).
  summaryProbe: { evaluation: 'probe', metric: 'accuracy', overrides: { 'probe.trainImages': 1000, 'probe.testImages': 500 } },
};

