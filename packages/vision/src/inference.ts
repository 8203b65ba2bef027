/**
 * Inference for vision (`d2v predict` / `d2v embed`, `loadModel`): image files and folders,
 * encoded images in memory (PNG, JPEG, WebP bytes) or pixel tensors, decoded and resized as an
 * image-folder dataset is, batched as the evaluations batch (no augmentation); a fine-tuned run's
 * classifier gives a label and the probability of every class.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, statSync } from 'node:fs';
import { D2vError, DataError, weightsUnder, type ModalityInference, type NamedInput, type Predictor, type SkippedInput } from '@d2v/core';
import { makeVisionBatch, type VisionBatch } from './batch.js';
import { CLASSIFIER, ClassifierHead, pooledFeatures } from './classifier.js';
import { datasetClassNames, InMemoryImageDataset } from './data/dataset.js';
import { decodeImage, imagesUnder, IMAGE_EXTENSIONS, type ImageSource } from './data/imageFolder.js';
import { bundledFashionMnistDir } from './data/paths.js';
import { batching } from './options.js';
import type { PatchEncoder } from './encoder.js';
import type { VisionConfig } from './schema.js';

/** An image file path, encoded image bytes, or a [height, width(, channels)] tensor of 0-255 pixel values. */
export type VisionInput = string | Uint8Array | tf.Tensor;

/** HWC uint8 pixels of vision.imageSize x vision.imageSize x vision.channels. */
export type VisionSample = Uint8Array;

/** A pixel tensor as raw HWC bytes (values rounded and clipped to 0-255). */
function rawImage(t: tf.Tensor, name: string): ImageSource {
  const [height, width, channels = 1] = t.shape;
  if ((t.rank !== 2 && t.rank !== 3) || ![1, 2, 3, 4].includes(channels)) {
    throw new DataError(name, `an image tensor must be [height, width] or [height, width, 1|3|4] with values 0-255, got shape [${t.shape}]`);
  }
  const data = Uint8Array.from(t.dataSync(), (v) => Math.max(0, Math.min(255, Math.round(v))));
  return { data, height: height!, width: width!, channels: channels as 1 | 2 | 3 | 4 };
}

function listInputs(paths: readonly string[]): { inputs: NamedInput<VisionInput>[]; skipped: SkippedInput[] } {
  const inputs: NamedInput<VisionInput>[] = [];
  const skipped: SkippedInput[] = [];
  for (const p of paths) {
    if (!existsSync(p)) skipped.push({ input: p, reason: 'no such file or folder' });
    else if (statSync(p).isDirectory()) {
      const files = imagesUnder(p);
      if (files.length === 0) skipped.push({ input: p, reason: `no image files (${[...IMAGE_EXTENSIONS].join(', ')}) in this folder or below` });
      for (const f of files) inputs.push({ name: f, value: f });
    } else inputs.push({ name: p, value: p });
  }
  return { inputs, skipped };
}

/** Class names of the run's training data (what the classifier's outputs mean); numbers when they cannot be read. */
function classNamesOf(c: VisionConfig, classes: number, log: (m: string) => void): string[] {
  const path = c.data.path || bundledFashionMnistDir();
  try {
    const names = datasetClassNames(path);
    if (names.length === classes) return names;
    log(`d2v: ${path} has ${names.length} classes but the classifier has ${classes} outputs: labels are class numbers`);
  } catch (err) {
    if (!(err instanceof D2vError)) throw err;
    log(`d2v: cannot read the class names of the training data (${err.message}): labels are class numbers`);
  }
  return Array.from({ length: classes }, (_, i) => String(i));
}

export const visionInference: ModalityInference<VisionInput, VisionSample, VisionBatch, VisionConfig, PatchEncoder> = {
  inputKind: 'image',
  inputsFrom: (paths) => listInputs(paths),
  async load(value, name, c) {
    const v = c.vision;
    const source = value instanceof tf.Tensor ? rawImage(value, name) : value;
    try {
      return (await decodeImage(source, v.imageSize, v.channels === 1 ? 1 : 3)).data;
    } catch (err) {
      if (err instanceof D2vError) throw err;
      throw new DataError(name, `unreadable or corrupt image (${(err as Error).message})`, { cause: err });
    }
  },
  collate(samples, c) {
    const v = c.vision;
    const channels = v.channels === 1 ? 1 : 3;
    const pixels = new Uint8Array(samples.length * samples[0]!.length);
    samples.forEach((s, i) => pixels.set(s, i * s.length));
    const ds = new InMemoryImageDataset(pixels, new Int32Array(samples.length), v.imageSize, v.imageSize, channels, [], 'inputs');
    // No rng: no augmentation, the evaluations' batches.
    return makeVisionBatch(ds, [...samples.keys()], batching(c));
  },
  heads: {
    classify: {
      weightsPrefix: `${CLASSIFIER}.`,
      create(ctx): Predictor<VisionBatch> {
        const c = ctx.config;
        const saved = weightsUnder(ctx.weights, `${CLASSIFIER}.`)!;
        const classes = saved['fc.weight']!.shape[1]!;
        const head = new ClassifierHead(c.model.dim, classes, 0);
        head.loadState(saved, 'classifier head');
        head.setTraining(false);
        const names = classNamesOf(c, classes, ctx.log);
        const cls = c.vision.cls;
        return {
          predict(batch) {
            const probs = tf.tidy(() => tf.softmax(head.apply(pooledFeatures(ctx.encoder, ctx.transformer, batch, false, undefined, cls))));
            const rows = probs.arraySync() as number[][];
            probs.dispose();
            return rows.map((p) => ({ label: names[p.indexOf(Math.max(...p))], probabilities: Object.fromEntries(names.map((n, k) => [n, p[k]])) }));
          },
          dispose: () => head.dispose(),
        };
      },
    },
  },
};
