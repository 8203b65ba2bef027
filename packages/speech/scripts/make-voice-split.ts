/**
 * A voice-ID set from a corpus built by make-corpus, without copying audio (resplitByUtterance):
 * the utterances of some of its splits re-split per voice into train/test manifests whose root
 * points at the corpus. data/espeak-voices was made with:
 *   npx tsx packages/speech/scripts/make-voice-split.ts --corpus packages/speech/data/espeak-small \
 *     --from valid,test --out packages/speech/data/espeak-voices --test-fraction 0.4 --seed 1
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { resplitByUtterance, CORPUS_SPLITS, type CorpusSplit } from '../src/data/corpus.js';

const USAGE = 'usage: make-voice-split --corpus DIR --from valid,test --out DIR [--test-fraction 0.4] [--valid-fraction 0] [--seed 1]';

function main(): void {
  const { values } = parseArgs({
    options: {
      corpus: { type: 'string' },
      from: { type: 'string' },
      out: { type: 'string' },
      'test-fraction': { type: 'string' },
      'valid-fraction': { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.corpus || !values.from || !values.out) throw new Error(`--corpus, --from and --out are required\n${USAGE}`);
  const from = values.from.split(',').map((x) => x.trim());
  const bad = from.find((x) => !(CORPUS_SPLITS as readonly string[]).includes(x));
  if (bad) throw new Error(`--from: '${bad}' is not a split (${CORPUS_SPLITS.join(', ')})\n${USAGE}`);
  const num = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got '${v}'\n${USAGE}`);
    return n;
  };
  const splits = resplitByUtterance({
    corpus: resolve(values.corpus),
    from: from as CorpusSplit[],
    out: resolve(values.out),
    testFraction: num('test-fraction', values['test-fraction']),
    validFraction: num('valid-fraction', values['valid-fraction']),
    seed: num('seed', values.seed),
  });
  for (const [split, s] of Object.entries(splits)) if (s.utterances) console.log(`${split}: ${s.utterances} utterances, ${s.voices.length} voices`);
}

try {
  main();
} catch (err) {
  console.error(`make-voice-split: ${(err as Error).message}`);
  process.exitCode = 1;
}
