/**
 * Word and character error rates: Levenshtein distance (substitutions,
 * insertions, deletions all cost 1) divided by the reference length, summed
 * over a corpus before dividing (as speech papers report WER).
 */

/** Edit distance between two sequences (two-row dynamic programme, O(|a| |b|) time, O(|b|) memory). */
export function editDistance<T>(ref: ArrayLike<T>, hyp: ArrayLike<T>): number {
  const m = hyp.length;
  let prev = Int32Array.from({ length: m + 1 }, (_, j) => j);
  let cur = new Int32Array(m + 1);
  for (let i = 1; i <= ref.length; i++) {
    cur[0] = i;
    const r = ref[i - 1];
    for (let j = 1; j <= m; j++) {
      const sub = prev[j - 1]! + (r === hyp[j - 1] ? 0 : 1);
      cur[j] = Math.min(sub, prev[j]! + 1, cur[j - 1]! + 1);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[m]!;
}

const words = (s: string) => s.trim().split(/\s+/).filter((w) => w.length > 0);
/** Characters of the text with runs of whitespace as one space (spaces count: they are the `|` symbols). */
const chars = (s: string) => [...words(s).join(' ')];

export interface ErrorRates {
  /** Word error rate (0..inf; above 1 when the hypothesis inserts many words). */
  wer: number;
  /** Character error rate. */
  cer: number;
  wordErrors: number;
  refWords: number;
  charErrors: number;
  refChars: number;
}

const ratio = (errors: number, total: number) => (total > 0 ? errors / total : errors > 0 ? Infinity : 0);

/** Corpus-level WER and CER of hypotheses against references (case-sensitive; whitespace normalised). */
export function errorRates(refs: readonly string[], hyps: readonly string[]): ErrorRates {
  if (refs.length !== hyps.length) throw new RangeError(`errorRates: ${refs.length} references but ${hyps.length} hypotheses`);
  let wordErrors = 0;
  let refWords = 0;
  let charErrors = 0;
  let refChars = 0;
  refs.forEach((ref, i) => {
    const rw = words(ref);
    const rc = chars(ref);
    wordErrors += editDistance(rw, words(hyps[i]!));
    charErrors += editDistance(rc, chars(hyps[i]!));
    refWords += rw.length;
    refChars += rc.length;
  });
  return { wer: ratio(wordErrors, refWords), cer: ratio(charErrors, refChars), wordErrors, refWords, charErrors, refChars };
}

export function wordErrorRate(ref: string, hyp: string): number {
  return errorRates([ref], [hyp]).wer;
}

export function charErrorRate(ref: string, hyp: string): number {
  return errorRates([ref], [hyp]).cer;
}
