/**
 * Synthesises a spoken-sentence corpus with espeak-ng (see src/data/corpus.ts).
 *   npx tsx packages/speech/scripts/make-corpus.ts --out DIR --utterances N [--seed S] [--voices V]
 *     [--min-seconds 1] [--max-seconds 3] [--min-words 3] [--max-words 6]
 *     [--split-by voice|utterance] [--valid-fraction 0.1] [--test-fraction 0.1]
 * --split-by utterance puts every voice in every split (voice / accent ID on unseen sentences).
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { buildCorpus } from '../src/data/corpus.js';

const USAGE =
  'usage: make-corpus --out DIR --utterances N [--seed S] [--voices V] [--min-seconds A] [--max-seconds B] [--min-words A] [--max-words B] [--split-by voice|utterance] [--valid-fraction F] [--test-fraction F]';

function num(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got '${value}'\n${USAGE}`);
  return n;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      utterances: { type: 'string' },
      seed: { type: 'string' },
      voices: { type: 'string' },
      'min-seconds': { type: 'string' },
      'max-seconds': { type: 'string' },
      'min-words': { type: 'string' },
      'max-words': { type: 'string' },
      'split-by': { type: 'string' },
      'valid-fraction': { type: 'string' },
      'test-fraction': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.out || !values.utterances) throw new Error(`--out and --utterances are required\n${USAGE}`);
  const splitBy = values['split-by'] ?? 'voice';
  if (splitBy !== 'voice' && splitBy !== 'utterance') throw new Error(`--split-by must be voice or utterance, got '${splitBy}'\n${USAGE}`);
  const t0 = Date.now();
  const summary = buildCorpus({
    out: resolve(values.out),
    utterances: num('utterances', values.utterances)!,
    seed: num('seed', values.seed),
    voices: num('voices', values.voices),
    minSeconds: num('min-seconds', values['min-seconds']),
    maxSeconds: num('max-seconds', values['max-seconds']),
    minWords: num('min-words', values['min-words']),
    maxWords: num('max-words', values['max-words']),
    splitBy,
    validFraction: num('valid-fraction', values['valid-fraction']),
    testFraction: num('test-fraction', values['test-fraction']),
    log: (m) => console.error(m),
  });
  for (const [split, s] of Object.entries(summary.splits)) {
    console.log(`${split}: ${s.utterances} utterances, ${s.seconds} s, ${s.voices.length} voices`);
  }
  console.log(`${(summary.bytes / 1e6).toFixed(1)} MB of audio in ${summary.out} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

try {
  main();
} catch (err) {
  console.error(`make-corpus: ${(err as Error).message}`);
  process.exitCode = 1;
}
