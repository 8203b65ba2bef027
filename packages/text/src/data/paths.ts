/** Locations of the data shipped in packages/text/data (see data/README.md). */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const pkgRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** packages/text/data */
export function textDataDir(): string {
  return join(pkgRoot, 'data');
}

/** Pre-training corpus: paragraph per line, blank line between documents (read with mode 'paragraph'). */
export function bundledCorpusFiles(): { train: string; valid: string } {
  const dir = join(textDataDir(), 'corpus');
  return { train: join(dir, 'train.txt'), valid: join(dir, 'valid.txt') };
}

/** SpamAssassin subset as `label<TAB>text` (labels 'ham' / 'spam'). */
export function bundledSpamFiles(): { train: string; test: string } {
  const dir = join(textDataDir(), 'spam');
  return { train: join(dir, 'train.tsv'), test: join(dir, 'test.tsv') };
}

/** The SentencePiece model trained on the bundled corpus (d2v id layout). */
export function bundledTokenizerModel(): string {
  return join(textDataDir(), 'tokenizer', 'd2v-8k.model');
}
