/**
 * Inference for text (`d2v predict` / `d2v embed`, `loadModel`): strings, or text files read one
 * text per line (`file:line` names each) and `label<TAB>text` TSVs (the text after the tab).
 * Texts are tokenised as fine-tuning does (`<s> ... </s>`, cut to finetune.maxTokens) and padded
 * into batches; a fine-tuned run's classifier gives a label and the probability of every class.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, statSync } from 'node:fs';
import { D2vError, DataError, weightsUnder, type FeatureEncoder, type ModalityInference, type NamedInput, type Predictor, type SkippedInput } from '@d2v/core';
import { encodeLabelled, labelledBatch, type TextBatch } from './batch.js';
import { ClassificationHead, CLASSIFIER, sentenceFeatures } from './classifier.js';
import { labelledFile, loadTokenizer, textFilesAt } from './resources.js';
import type { TextConfig } from './schema.js';
import { PAD_ID } from './tokenizer/sentencepiece.js';
import { parseLabelledLine, readLabelledTsv, TSV_HEADER } from './data/tsv.js';
import { decodeLines, readDataFile } from './data/utf8.js';

/** A text. */
export type TextInput = string;

/** Token ids `<s> ... </s>`. */
export type TextSample = Int32Array;

/** The texts of one file: a line each (a TSV line's text after its tab); blank lines are no input. */
function linesOf(file: string, c: TextConfig, inputs: NamedInput<TextInput>[], skipped: SkippedInput[]): void {
  const { lines } = decodeLines(readDataFile(file), c.data.invalidUtf8);
  const tsv = /\.tsv$/i.test(file);
  lines.forEach((line, i) => {
    const name = `${file}:${i + 1}`;
    if (line === null) skipped.push({ input: name, reason: 'invalid UTF-8 (data.invalidUtf8 skip)' });
    else if (line.trim() === '' || (tsv && i === 0 && TSV_HEADER.test(line.trim()))) return;
    else if (!tsv) inputs.push({ name, value: line.trim() });
    else {
      const parsed = parseLabelledLine(line);
      if (typeof parsed === 'string') skipped.push({ input: name, reason: parsed });
      else inputs.push({ name, value: parsed.text });
    }
  });
}

function listInputs(paths: readonly string[], c: TextConfig): { inputs: NamedInput<TextInput>[]; skipped: SkippedInput[] } {
  const inputs: NamedInput<TextInput>[] = [];
  const skipped: SkippedInput[] = [];
  for (const p of paths) {
    if (!existsSync(p)) {
      skipped.push({ input: p, reason: 'no such file or folder' });
      continue;
    }
    try {
      for (const file of statSync(p).isDirectory() ? textFilesAt(p) : [p]) linesOf(file, c, inputs, skipped);
    } catch (err) {
      if (!(err instanceof D2vError)) throw err;
      skipped.push({ input: p, reason: err.message.startsWith(`${p}: `) ? err.message.slice(p.length + 2) : err.message });
    }
  }
  return { inputs, skipped };
}

/** Label names of the run's training TSV (what the classifier's outputs mean); numbers when it cannot be read. */
function labelNamesOf(c: TextConfig, classes: number, log: (m: string) => void): string[] {
  const file = labelledFile(c, 'train');
  try {
    const names = readLabelledTsv(file).labelNames;
    if (names.length === classes) return names;
    log(`d2v: ${file} has ${names.length} labels but the classifier has ${classes} outputs: labels are class numbers`);
  } catch (err) {
    if (!(err instanceof D2vError)) throw err;
    log(`d2v: cannot read the labels of the training data (${err.message}): labels are class numbers`);
  }
  return Array.from({ length: classes }, (_, i) => String(i));
}

export const textInference: ModalityInference<TextInput, TextSample, TextBatch, TextConfig, FeatureEncoder<TextBatch>> = {
  inputKind: 'text',
  inputsFrom: (paths, c) => listInputs(paths, c),
  async load(value, name, c) {
    if (typeof value !== 'string') throw new DataError(name, `a text input is a string, got ${value === null ? 'null' : typeof value}`);
    const tokenizer = await loadTokenizer(c);
    return encodeLabelled(tokenizer, { texts: [value], labels: new Int32Array(1), labelNames: [] }, c.finetune.maxTokens, name).sequences[0]!;
  },
  collate: (samples) => labelledBatch({ sequences: samples, labels: new Int32Array(samples.length), labelNames: [], truncated: 0, source: 'inputs' }, [...samples.keys()], PAD_ID),
  heads: {
    classify: {
      weightsPrefix: `${CLASSIFIER}.`,
      create(ctx): Predictor<TextBatch> {
        const c = ctx.config;
        const saved = weightsUnder(ctx.weights, `${CLASSIFIER}.`)!;
        const classes = saved['out_proj.weight']!.shape[1]!;
        const head = new ClassificationHead(c.model.dim, classes, 0, 0);
        head.loadState(saved, 'classifier head');
        head.setTraining(false);
        const names = labelNamesOf(c, classes, ctx.log);
        const pool = c.finetune.pool;
        return {
          predict(batch) {
            const probs = tf.tidy(() => tf.softmax(head.apply(sentenceFeatures(ctx.encoder, ctx.transformer, batch, pool))));
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
