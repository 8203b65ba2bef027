import { describe, expect, it } from 'vitest';
import { charErrorRate, editDistance, errorRates, wordErrorRate } from '../src/ctc/wer.js';

describe('edit distance', () => {
  it('counts substitutions, insertions and deletions', () => {
    expect(editDistance([...'kitten'], [...'sitting'])).toBe(3);
    expect(editDistance([...'flaw'], [...'lawn'])).toBe(2);
    expect(editDistance([], [...'abc'])).toBe(3);
    expect(editDistance([...'abc'], [])).toBe(3);
    expect(editDistance([...'same'], [...'same'])).toBe(0);
    expect(editDistance(['a', 'b'], ['b', 'a'])).toBe(2);
  });
});

describe('word and character error rates', () => {
  it('WER on known sentences', () => {
    expect(wordErrorRate('THE CAT SAT ON THE MAT', 'THE CAT SAT ON THE MAT')).toBe(0);
    // one substitution (SAT -> SIT), one deletion (THE), one insertion (DOWN) over 6 reference words
    expect(wordErrorRate('THE CAT SAT ON THE MAT', 'THE CAT SIT DOWN ON MAT')).toBeCloseTo(3 / 6, 12);
    expect(wordErrorRate('A B', 'A B C D E')).toBe(1.5); // insertions push WER above 1
    expect(wordErrorRate('  HELLO   WORLD ', 'HELLO WORLD')).toBe(0); // whitespace is normalised
  });

  it('CER counts characters including the spaces between words', () => {
    expect(charErrorRate('HELLO WORLD', 'HELO WORLD')).toBeCloseTo(1 / 11, 12);
    expect(charErrorRate('AB CD', 'ABCD')).toBeCloseTo(1 / 5, 12);
  });

  it('pools errors over a corpus before dividing', () => {
    const r = errorRates(['A B C D', 'E'], ['A B C D', 'F']);
    expect(r.wordErrors).toBe(1);
    expect(r.refWords).toBe(5);
    expect(r.wer).toBeCloseTo(0.2, 12); // not the mean of per-sentence rates (0.5)
    expect(r.charErrors).toBe(1);
    expect(r.refChars).toBe(8);
    expect(errorRates([''], [''])).toMatchObject({ wer: 0, cer: 0 });
    expect(errorRates([''], ['X']).wer).toBe(Infinity);
    expect(() => errorRates(['A'], [])).toThrow(/1 references but 0 hypotheses/);
  });
});
