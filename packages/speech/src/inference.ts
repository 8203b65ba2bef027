/**
 * Inference for speech (`d2v predict` / `d2v embed`, `loadModel`): WAV files, folders of WAVs or
 * fairseq manifests (.tsv), WAV bytes in memory, or mono Float32Array samples at speech.sampleRate;
 * read (resampled, normalised as data.normalize says) and padded into batches as the CTC evaluation
 * does. A CTC fine-tuned run transcribes (greedy decoding); a classify fine-tuned run
 * (finetune.task classify) gives each utterance's class and the probability of every class.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { D2vError, DataError, weightsUnder, type ModalityInference, type NamedInput, type SkippedInput } from '@d2v/core';
import { CTC_HEAD, CtcHead, ctcLogits } from './ctcTask.js';
import { CLASSIFY_HEAD, UtteranceClassifierHead, classifyLogits } from './classifyTask.js';
import { greedyDecode } from './ctc/decode.js';
import { collateAudio } from './data/batching.js';
import type { SpeechBatch } from './data/source.js';
import { listWavFiles } from './data/dataset.js';
import { readManifest } from './data/manifest.js';
import { decodeWav, normalizeAudio, readWav } from './data/wav.js';
import { framesForSamples, type SpeechEncoder } from './encoder.js';
import { VOCAB_SIZE } from './data/letters.js';
import { convLayersOf } from './options.js';
import type { SpeechConfig } from './schema.js';

/** A WAV file path, WAV file bytes, or mono samples at speech.sampleRate. */
export type SpeechInput = string | Uint8Array | Float32Array;

/** Mono samples at speech.sampleRate, normalised when data.normalize is set. */
export type SpeechSample = Float32Array;

/** Paths as inputs: WAV files, every WAV under a folder, every utterance of a manifest. */
function listInputs(paths: readonly string[]): { inputs: NamedInput<SpeechInput>[]; skipped: SkippedInput[] } {
  const inputs: NamedInput<SpeechInput>[] = [];
  const skipped: SkippedInput[] = [];
  const add = (file: string) => inputs.push({ name: file, value: file });
  for (const p of paths) {
    if (!existsSync(p)) skipped.push({ input: p, reason: 'no such file or folder' });
    else if (statSync(p).isDirectory()) {
      const files = listWavFiles(p);
      if (files.length === 0) skipped.push({ input: p, reason: 'no .wav files in this folder or below' });
      files.forEach(add);
    } else if (/\.tsv$/i.test(p)) {
      try {
        const m = readManifest(p);
        for (const e of m.entries) add(join(m.rootDir, e.path));
      } catch (err) {
        if (!(err instanceof D2vError)) throw err;
        skipped.push({ input: p, reason: err.message });
      }
    } else add(p);
  }
  return { inputs, skipped };
}

/** Fewest samples that give the feature encoder one frame (its receptive field: 400 with the paper's convolutions). */
export function minimumSamples(c: SpeechConfig): number {
  const layers = convLayersOf(c);
  let field = 1;
  for (let i = layers.length - 1; i >= 0; i--) field = (field - 1) * layers[i]!.stride + layers[i]!.kernel;
  return field;
}

export const speechInference: ModalityInference<SpeechInput, SpeechSample, SpeechBatch, SpeechConfig, SpeechEncoder> = {
  inputKind: 'WAV file',
  inputsFrom: (paths) => listInputs(paths),
  load(value, name, c) {
    const opts = { targetRate: c.speech.sampleRate, normalize: c.data.normalize };
    let audio: Float32Array;
    if (typeof value === 'string') audio = readWav(value, opts);
    else if (value instanceof Float32Array) audio = opts.normalize ? normalizeAudio(value) : value;
    else if (value instanceof Uint8Array) audio = decodeWav(value, name, opts);
    else throw new DataError(name, 'a speech input is a WAV path, WAV bytes (Uint8Array) or mono samples (Float32Array)');
    if (framesForSamples(audio.length, convLayersOf(c)) < 1) {
      throw new DataError(name, `too short: ${audio.length} samples; the feature encoder needs at least ${minimumSamples(c)} (${((1000 * minimumSamples(c)) / opts.targetRate).toFixed(0)} ms)`);
    }
    return audio;
  },
  // Padded to the longest, as the CTC evaluation batches (padded frames are masked everywhere).
  collate: (samples) => collateAudio(samples.map((audio) => ({ audio })), { pad: true }),
  heads: {
    ctc: {
      weightsPrefix: `${CTC_HEAD}.`,
      create(ctx) {
        const head = new CtcHead(ctx.config.model.dim, VOCAB_SIZE, 0);
        head.loadState(weightsUnder(ctx.weights, `${CTC_HEAD}.`)!, 'CTC head');
        head.setTraining(false);
        return {
          predict(batch) {
            const { logits, frames } = ctcLogits(ctx.encoder, ctx.transformer, head, batch, { training: false });
            try {
              return greedyDecode(logits, { inputLengths: frames }).map((transcript) => ({ transcript }));
            } finally {
              logits.dispose();
            }
          },
          dispose: () => head.dispose(),
        };
      },
    },
    // finetune.task classify: the class and its probability per class (names as recorded in the run's classify.classes).
    classify: {
      weightsPrefix: `${CLASSIFY_HEAD}.`,
      create(ctx) {
        const c = ctx.config;
        const saved = weightsUnder(ctx.weights, `${CLASSIFY_HEAD}.`)!;
        const names = c.classify.classes;
        const head = new UtteranceClassifierHead(c.model.dim, c.classify.projDim, names.length, 0);
        head.loadState(saved, `utterance classifier head (${names.length} classes)`);
        head.setTraining(false);
        return {
          predict(batch) {
            const probs = tf.tidy(() => tf.softmax(classifyLogits(ctx.encoder, ctx.transformer, head, batch, { training: false })));
            const rows = probs.arraySync() as number[][];
            probs.dispose();
            return rows.map((p) => ({ label: names[p.indexOf(Math.max(...p))], probabilities: Object.fromEntries(names.map((n, k) => [n, p[k]])) }));
          },
          dispose: () => head.dispose(),
        };
      },
    },
  },
  taskOf: (c) => c.finetune.task,
};
