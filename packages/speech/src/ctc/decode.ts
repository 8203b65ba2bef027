/**
 * Greedy (best path) CTC decoding: the most likely class per frame, repeats
 * collapsed, blanks dropped. A blank between two equal symbols keeps both
 * ("L <b> L" -> "LL"), which is how CTC spells double letters.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@d2v/core';
import { BLANK, LETTERS } from '../data/letters.js';

/** Collapses repeats, then removes blanks: [1,1,0,1,2,2] -> [1,1,2]. */
export function collapseCtc(ids: ArrayLike<number>, blank = BLANK): number[] {
  const out: number[] = [];
  let prev = -1;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id !== prev && id !== blank) out.push(id);
    prev = id;
  }
  return out;
}

export interface GreedyDecodeOptions {
  /** Valid frames per sample (default: all). */
  inputLengths?: ArrayLike<number>;
  blank?: number;
  /** Symbol of each class; `|` marks a word boundary (default: the letter vocabulary). */
  vocabulary?: readonly string[];
}

/** Best-path label ids per sample for logits [B, T, V]. */
export function greedyDecodeIds(logits: tf.Tensor3D, opts: GreedyDecodeOptions = {}): number[][] {
  const [B, T] = logits.shape;
  if (opts.inputLengths && opts.inputLengths.length !== B) throw new ShapeError(`greedyDecode: ${opts.inputLengths.length} input lengths for batch ${B}`);
  const best = tf.tidy(() => tf.argMax(logits, 2));
  const ids = best.dataSync();
  best.dispose();
  return Array.from({ length: B }, (_, b) => {
    const n = Math.min(T, opts.inputLengths ? opts.inputLengths[b]! : T);
    return collapseCtc(ids.subarray(b * T, b * T + n), opts.blank ?? BLANK);
  });
}

/** Label ids -> words: symbols concatenated, `|` -> space, whitespace collapsed. */
export function idsToWords(ids: readonly number[], vocabulary: readonly string[] = LETTERS): string {
  let s = '';
  for (const id of ids) {
    const sym = vocabulary[id];
    if (sym === undefined) throw new RangeError(`decode: class ${id} has no symbol in a vocabulary of ${vocabulary.length}`);
    s += sym === '|' ? ' ' : sym;
  }
  return s.trim().replace(/\s+/g, ' ');
}

/** Best-path transcripts for logits [B, T, V]. */
export function greedyDecode(logits: tf.Tensor3D, opts: GreedyDecodeOptions = {}): string[] {
  return greedyDecodeIds(logits, opts).map((ids) => idsToWords(ids, opts.vocabulary ?? LETTERS));
}
