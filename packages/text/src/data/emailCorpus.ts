/**
 * An unlabelled in-domain pre-training corpus from the full SpamAssassin set:
 * every usable e-mail as one line of plain text (`data.layout line`), minus any
 * message whose text is in an excluded labelled file (the classification test
 * split), so pre-training never sees a test text. Labels are not written.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '@d2v/core';
import { loadStdlibCorpus } from './stdlib.js';
import { readLabelledTsv } from './tsv.js';

/** Near-duplicate key of an e-mail text: its first 300 normalised characters (as the bundled split uses). */
export function emailDedupKey(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, ' ').slice(0, 300);
}

export interface EmailCorpusOptions {
  /** Output folder: train.txt and valid.txt (one e-mail per line). */
  out: string;
  /** Longest e-mail text in characters (cut at a word boundary). */
  maxChars?: number;
  /** `label<TAB>text` files whose texts (and near-duplicates) are left out. */
  exclude?: string[];
  /** E-mails held out as the valid split. */
  validCount?: number;
  /** E-mails with fewer words are left out (attachments, empty HTML shells). */
  minWords?: number;
  seed?: number;
}

export interface EmailCorpusResult {
  train: string;
  valid: string;
  trainDocuments: number;
  validDocuments: number;
  excluded: number;
  duplicates: number;
  tooShort: number;
  bytes: number;
}

export function buildEmailCorpus(opts: EmailCorpusOptions): EmailCorpusResult {
  const { out, maxChars = 2000, exclude = [], validCount = 200, minWords = 12, seed = 2002 } = opts;
  const excludedKeys = new Set<string>();
  for (const file of exclude) for (const t of readLabelledTsv(file).texts) excludedKeys.add(emailDedupKey(t));
  const seen = new Set<string>();
  const kept: string[] = [];
  let excluded = 0;
  let duplicates = 0;
  let tooShort = 0;
  for (const mail of new Rng(seed).shuffle(loadStdlibCorpus('spam-assassin', { maxEmailChars: maxChars }))) {
    const text = mail.paragraphs[0];
    if (!text || text.split(' ').length < minWords) {
      tooShort++;
      continue;
    }
    const key = emailDedupKey(text);
    if (excludedKeys.has(key)) {
      excluded++;
      continue;
    }
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    kept.push(text.replace(/[\r\n]+/g, ' '));
  }
  const valid = kept.slice(0, validCount);
  const train = kept.slice(validCount);
  mkdirSync(out, { recursive: true });
  const files = { train: join(out, 'train.txt'), valid: join(out, 'valid.txt') };
  writeFileSync(files.train, `${train.join('\n')}\n`);
  writeFileSync(files.valid, `${valid.join('\n')}\n`);
  const bytes = Buffer.byteLength(train.join('\n'));
  return { ...files, trainDocuments: train.length, validDocuments: valid.length, excluded, duplicates, tooShort, bytes };
}
