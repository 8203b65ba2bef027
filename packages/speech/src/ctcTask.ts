/**
 * CTC fine-tuning (wav2vec 2.0 / data2vec recipe): a Linear head over the letter vocabulary
 * on the Transformer output, the convolutional feature encoder frozen, span masking (and
 * optional channel masking) kept while training, greedy decoding, WER/CER on the test split.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Module, Linear, Rng, ConfigError, createDownstreamTask, weightsUnder, type DownstreamContext, type DownstreamTask } from '@d2v/core';
import type { SpeechEncoder } from './encoder.js';
import { SpeechDataSource, type SpeechBatch, sortedBatches } from './data/source.js';
import { subsetDataset, type SpeechDataset } from './data/dataset.js';
import { VOCAB_SIZE, normalizeTranscript, textToIds } from './data/letters.js';
import { ctcLoss } from './ctc/ctcLoss.js';
import { greedyDecode } from './ctc/decode.js';
import { errorRates } from './ctc/wer.js';
import { encodeUtterances, finetuneForward, validFrames, type SpeechForwardOptions } from './utterances.js';
import { loadSpeechSplit } from './options.js';
import type { SpeechConfig } from './schema.js';

/** Linear projection to letter logits (blank, |, A-Z, '). */
export class CtcHead extends Module {
  readonly proj: Linear;
  constructor(dim: number, vocab: number, seed: number) {
    super();
    this.proj = this.child('proj', new Linear(dim, vocab, seed));
  }
  apply(x: tf.Tensor3D): tf.Tensor3D {
    return this.proj.apply(x) as tf.Tensor3D;
  }
}

/** Options of the shared speech forward pass (time and channel masking while training). */
export type CtcForwardOptions = SpeechForwardOptions;

/** Letter logits [B, T, V] and the valid frames per row. */
export function ctcLogits(encoder: SpeechEncoder, transformer: DownstreamContext['transformer'], head: CtcHead, batch: SpeechBatch, o: CtcForwardOptions): { logits: tf.Tensor3D; frames: Int32Array } {
  const logits = tf.tidy(() => head.apply(encodeUtterances(encoder, transformer, batch, o).hidden));
  return { logits, frames: validFrames(encoder, batch) };
}

function labelsOf(batch: SpeechBatch): Int32Array[] {
  return batch.transcripts.map((t, i) => {
    if (t === undefined) throw new ConfigError(`${batch.files[i]} has no transcript: CTC fine-tuning needs a .wrd/.ltr manifest or x.txt next to x.wav`, 'data.path');
    return textToIds(t);
  });
}

/**
 * Greedy transcripts of a whole dataset, the corpus WER/CER against its references, and the CTC
 * loss per reference letter (a continuous score: it still ranks models whose greedy output is
 * all blanks, as early in fine-tuning).
 */
export function decodeDataset(encoder: SpeechEncoder, transformer: DownstreamContext['transformer'], head: CtcHead, ds: SpeechDataset, batchSize: number): { wer: number; cer: number; ctcLossPerLetter: number; refs: string[]; hyps: string[] } {
  const source = new SpeechDataSource(ds, { seed: 0, shuffle: false, pad: true });
  const refs: string[] = [];
  const hyps: string[] = [];
  let lossSum = 0;
  let letters = 0;
  for (const idx of sortedBatches(ds.sizes, batchSize)) {
    const batch = source.collate(idx);
    try {
      const { logits, frames } = ctcLogits(encoder, transformer, head, batch, { training: false });
      try {
        hyps.push(...greedyDecode(logits, { inputLengths: frames }));
        batch.transcripts.forEach((t, i) => {
          if (t === undefined) throw new ConfigError(`${batch.files[i]} has no transcript: cannot compute WER`, 'data.path');
          refs.push(normalizeTranscript(t));
        });
        const labels = labelsOf(batch);
        const loss = ctcLoss(logits, labels, frames, { reduction: 'sum', zeroInfinity: true });
        lossSum += loss.dataSync()[0]!;
        loss.dispose();
        for (const l of labels) letters += l.length;
      } finally {
        logits.dispose();
      }
    } finally {
      batch.dispose();
    }
  }
  const r = errorRates(refs, hyps);
  return { wer: r.wer, cer: r.cer, ctcLossPerLetter: lossSum / Math.max(1, letters), refs, hyps };
}

/** A seeded random subset of `n` utterances (all when n <= 0 or n >= the set). */
export function labelledSubset(ds: SpeechDataset, n: number, seed: number): SpeechDataset {
  if (n <= 0 || n >= ds.length) return ds;
  const all = Array.from({ length: ds.length }, (_, i) => i);
  const pick = new Rng(seed * 7919 + 17).shuffle(all).slice(0, n).sort((a, b) => a - b);
  return subsetDataset(ds, pick, `${n} labelled utterances`);
}

/** The CTC head's name in a fine-tuned checkpoint: its parameters are `ctc_head.*`. */
export const CTC_HEAD = 'ctc_head';

/** What speech's evaluations and fine-tuning get: the speech config and encoder. */
export type SpeechContext = DownstreamContext<SpeechConfig, SpeechEncoder>;

function describeModel(c: SpeechConfig, n: number): string {
  return `CTC over ${VOCAB_SIZE} letters on ${c.model.depth} x ${c.model.dim} post-LN blocks; ${n} labelled utterances`;
}

export async function createCtcTask(ctx: SpeechContext): Promise<DownstreamTask> {
  const c = ctx.config;
  const ft = c.finetune;
  const encoder = ctx.encoder;
  const train = labelledSubset(loadSpeechSplit(c, 'train'), ft.labelledUtterances, c.seed);
  const test = loadSpeechSplit(c, 'test');
  const head = new CtcHead(c.model.dim, VOCAB_SIZE, c.seed + 29);
  if (ft.freezeFeatureEncoder) encoder.extractor.setTrainable(false);
  ctx.log(`d2v: CTC fine-tuning on ${train.length} labelled utterances (${train.source}), testing on ${test.length} (${test.source})`);
  return createDownstreamTask({
    ctx,
    head: { name: CTC_HEAD, module: head, label: 'CTC head' },
    data: new SpeechDataSource(train, { seed: c.seed, shuffle: true, pad: true }),
    loss(batch, rng) {
      const labels = labelsOf(batch);
      const { logits, frames } = ctcLogits(encoder, ctx.transformer, head, batch, finetuneForward(c.masking, rng));
      return ctcLoss(logits, labels, frames, { reduction: 'mean', zeroInfinity: true }) as tf.Scalar;
    },
    metrics() {
      const r = decodeDataset(encoder, ctx.transformer, head, test, ft.evalBatchSize);
      ctx.log(`d2v: test WER ${(100 * r.wer).toFixed(2)}%, CER ${(100 * r.cer).toFixed(2)}%, CTC loss ${r.ctcLossPerLetter.toFixed(3)}/letter on ${test.length} utterances; e.g. "${r.refs[0]}" -> "${r.hyps[0]}"`);
      return { wer: r.wer, cer: r.cer, ctcLossPerLetter: r.ctcLossPerLetter, testUtterances: test.length };
    },
    unit: 'utt',
    describe: () => describeModel(c, train.length),
    skippedFiles: () => [...train.skipped, ...test.skipped],
  });
}

/** `d2v eval --task ctc`: WER/CER of a fine-tuned checkpoint (it must hold the CTC head). */
export async function evaluateCtc(ctx: SpeechContext): Promise<Record<string, number>> {
  const c = ctx.config;
  const saved = weightsUnder(ctx.weights, `${CTC_HEAD}.`);
  if (!saved) throw new ConfigError('the checkpoint has no CTC head (ctc_head.*): pass a fine-tuned run with --finetune.init (d2v finetune --modality speech first)', 'finetune.init');
  const head = new CtcHead(c.model.dim, VOCAB_SIZE, c.seed + 29);
  try {
    head.loadState(saved, 'CTC head');
    const test = loadSpeechSplit(c, 'test');
    ctx.encoder.setTraining(false);
    ctx.transformer.setTraining(false);
    const r = decodeDataset(ctx.encoder, ctx.transformer, head, test, c.finetune.evalBatchSize);
    ctx.log(`d2v: test WER ${(100 * r.wer).toFixed(2)}%, CER ${(100 * r.cer).toFixed(2)}%, CTC loss ${r.ctcLossPerLetter.toFixed(3)}/letter on ${test.length} utterances`);
    return { wer: r.wer, cer: r.cer, ctcLossPerLetter: r.ctcLossPerLetter, testUtterances: test.length };
  } finally {
    head.dispose();
  }
}
