/**
 * The CTC letter vocabulary of wav2vec 2.0 / data2vec fine-tuning on
 * LibriSpeech: blank, the word boundary `|`, A-Z and the apostrophe.
 * Transcripts are normalised the way a TTS engine would read them:
 * upper case, accents stripped, numbers spelled out, other punctuation dropped.
 */

export const BLANK = 0;
export const WORD_BOUNDARY = 1;
/** Index i is the symbol of class i; index 0 is the CTC blank. */
export const LETTERS: readonly string[] = ['<blank>', '|', ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "'"];
export const VOCAB_SIZE = LETTERS.length;

const LETTER_ID = new Map<string, number>(LETTERS.map((s, i) => [s, i]));

const ONES = ['ZERO', 'ONE', 'TWO', 'THREE', 'FOUR', 'FIVE', 'SIX', 'SEVEN', 'EIGHT', 'NINE', 'TEN', 'ELEVEN', 'TWELVE', 'THIRTEEN', 'FOURTEEN', 'FIFTEEN', 'SIXTEEN', 'SEVENTEEN', 'EIGHTEEN', 'NINETEEN'];
const TENS = ['', '', 'TWENTY', 'THIRTY', 'FORTY', 'FIFTY', 'SIXTY', 'SEVENTY', 'EIGHTY', 'NINETY'];
const SCALES: [number, string][] = [
  [1e9, 'BILLION'],
  [1e6, 'MILLION'],
  [1e3, 'THOUSAND'],
  [100, 'HUNDRED'],
];

/** English words for a non-negative integer (digit by digit beyond 10^12, as a reader would). */
export function numberToWords(n: number): string {
  if (n < 20) return ONES[n]!;
  if (n < 100) return TENS[Math.floor(n / 10)]! + (n % 10 ? ` ${ONES[n % 10]}` : '');
  for (const [scale, name] of SCALES) {
    if (n >= scale) {
      const rest = n % scale;
      return `${numberToWords(Math.floor(n / scale))} ${name}${rest ? ` ${numberToWords(rest)}` : ''}`;
    }
  }
  return ONES[0]!;
}

function spellDigits(digits: string): string {
  if (digits.length > 12 || (digits.length > 1 && digits.startsWith('0'))) {
    return [...digits].map((d) => ONES[Number(d)]).join(' ');
  }
  return numberToWords(Number(digits));
}

/**
 * Normalises free text to the vocabulary's words: "Don't pay $42.50, Zoë!" ->
 * "DON'T PAY FORTY TWO FIFTY ZOE". Apostrophes survive only inside words.
 */
export function normalizeTranscript(text: string): string {
  const t = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .replace(/&/g, ' and ')
    .replace(/\d+/g, (d) => ` ${spellDigits(d)} `)
    .toUpperCase()
    .replace(/[^A-Z']+/g, ' ');
  return t
    .split(' ')
    .map((w) => w.replace(/^'+|'+$/g, ''))
    .filter((w) => w.length > 0)
    .join(' ');
}

/** fairseq `.ltr` line for a transcript: "HELLO WORLD" -> "H E L L O | W O R L D |". */
export function wordsToLetterLine(text: string): string {
  const words = normalizeTranscript(text);
  if (words.length === 0) return '';
  return `${[...words.replace(/ /g, '|')].join(' ')} |`;
}

/** Inverse of wordsToLetterLine: "H E L L O | W O R L D |" -> "HELLO WORLD". */
export function letterLineToWords(line: string): string {
  return line
    .replace(/\s+/g, '')
    .split('|')
    .filter((w) => w.length > 0)
    .join(' ');
}

export interface EncodeOptions {
  /** End the label sequence with `|` like fairseq's `.ltr` targets (default true). */
  trailingBoundary?: boolean;
}

/** Text -> CTC label ids (normalised; words separated by `|`; never contains the blank). */
export function textToIds(text: string, opts: EncodeOptions = {}): Int32Array {
  const words = normalizeTranscript(text);
  if (words.length === 0) return new Int32Array(0);
  const symbols = [...words.replace(/ /g, '|')];
  if (opts.trailingBoundary ?? true) symbols.push('|');
  return Int32Array.from(symbols, (s) => LETTER_ID.get(s)!);
}

/** Label ids -> text: `|` becomes a space, blanks are skipped, whitespace collapsed. */
export function idsToText(ids: ArrayLike<number>): string {
  let s = '';
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id === BLANK) continue;
    const sym = LETTERS[id];
    if (sym === undefined) throw new RangeError(`idsToText: id ${id} is outside the letter vocabulary (0..${VOCAB_SIZE - 1})`);
    s += sym === '|' ? ' ' : sym;
  }
  return s.trim().replace(/ +/g, ' ');
}
