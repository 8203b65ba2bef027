/**
 * Writes the bundled text data from the @stdlib dataset packages:
 *  - data/corpus/{train,valid}.txt: Moby Dick + a seeded sample of State of
 *    the Union addresses, one paragraph per line, a blank line between
 *    documents (read with readTextFiles(..., { mode: 'paragraph' }));
 *  - data/spam/{train,test}.tsv: class-balanced SpamAssassin subset as
 *    `label<TAB>text` (ham/spam), deduplicated, no text in both splits.
 *   npx tsx packages/text/scripts/make-corpus.ts [--sotu-train-bytes 1300000] [--spam-train 500] [--spam-test 500] [--out DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@d2v/core';
import { loadStdlibCorpus, type StdlibDocument } from '../src/data/stdlib.js';
import { textDataDir } from '../src/data/paths.js';
import { emailDedupKey } from '../src/data/emailCorpus.js';

const arg = (k: string, d: string) => {
  const i = process.argv.indexOf(`--${k}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const out = arg('out', textDataDir());
const sotuTrainBytes = Number(arg('sotu-train-bytes', '1300000'));
const sotuValid = Number(arg('sotu-valid', '3'));
const spamTrain = Number(arg('spam-train', '500'));
const spamTest = Number(arg('spam-test', '500'));

const docText = (d: StdlibDocument) => d.paragraphs.join('\n');
const writeDocs = (file: string, docs: StdlibDocument[]) => {
  writeFileSync(file, `${docs.map(docText).join('\n\n')}\n`);
  const bytes = docs.reduce((n, d) => n + Buffer.byteLength(docText(d)) + 2, 0);
  console.log(`${file}: ${docs.length} documents, ${(bytes / 1e6).toFixed(2)} MB`);
};

// Pre-training corpus. Moby Dick chapters 7, 27, ..., 127 are held out.
const moby = loadStdlibCorpus('moby-dick');
const heldOut = (d: StdlibDocument) => /^chapter-\d+$/.test(d.id) && Number(d.id.slice(8)) % 20 === 7;
const sotu = new Rng(1790).shuffle(loadStdlibCorpus('sotu'));
const validDocs = [...moby.filter(heldOut), ...sotu.slice(0, sotuValid)];
const trainDocs = moby.filter((d) => !heldOut(d));
let budget = sotuTrainBytes;
for (const speech of sotu.slice(sotuValid)) {
  const size = Buffer.byteLength(docText(speech));
  if (size > budget) continue;
  trainDocs.push(speech);
  budget -= size;
}
mkdirSync(join(out, 'corpus'), { recursive: true });
writeDocs(join(out, 'corpus', 'train.txt'), trainDocs);
writeDocs(join(out, 'corpus', 'valid.txt'), validDocs);

// Classification subset: dedupe on normalised text so no message is in both splits.
const mails = loadStdlibCorpus('spam-assassin');
const seen = new Set<string>();
const pools: Record<'ham' | 'spam', string[]> = { ham: [], spam: [] };
for (const m of new Rng(2002).shuffle(mails)) {
  const text = m.paragraphs[0];
  // Fewer than ~8 words after the subject is mostly an attachment or an HTML shell.
  if (!text || text.split(' ').length < 12) continue;
  const key = text.toLowerCase().replace(/[^a-z0-9]+/g, ' ').slice(0, 300);
  if (seen.has(key)) continue;
  seen.add(key);
  pools[m.label!].push(text.replace(/\t/g, ' '));
}
const take = (label: 'ham' | 'spam', from: number, n: number) => pools[label].slice(from, from + n).map((t) => `${label}\t${t}`);
const half = (n: number) => Math.floor(n / 2);
for (const label of ['ham', 'spam'] as const) {
  if (pools[label].length < half(spamTest) + half(spamTrain)) throw new Error(`only ${pools[label].length} usable ${label} messages`);
}
mkdirSync(join(out, 'spam'), { recursive: true });
const splits = {
  test: [...take('ham', 0, half(spamTest)), ...take('spam', 0, half(spamTest))],
  train: [...take('ham', half(spamTest), half(spamTrain)), ...take('spam', half(spamTest), half(spamTrain))],
};
for (const [name, rows] of Object.entries(splits)) {
  const file = join(out, 'spam', `${name}.tsv`);
  writeFileSync(file, `${new Rng(name === 'train' ? 11 : 12).shuffle(rows).join('\n')}\n`);
  console.log(`${file}: ${rows.length} examples (balanced ham/spam)`);
}
console.log(`usable after dedupe: ${pools.ham.length} ham, ${pools.spam.length} spam`);
