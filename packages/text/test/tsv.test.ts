import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { ConfigError, DataError } from '@d2v/core';
import { tempFiles } from '@d2v/core/testing';
import { readLabelledTsv } from '../src/data/tsv.js';
import { bundledSpamFiles } from '../src/data/paths.js';

const { dir, file } = tempFiles('tsv');

describe('readLabelledTsv', () => {
  it('reads labels and texts; header and blank lines are skipped; later tabs become spaces', () => {
    const f = file('ok.tsv', 'label\ttext\nspam\tWin money now\n\nham\tLunch at noon?\tsee you\r\nspam\tFree offer\n');
    const r = readLabelledTsv(f);
    expect(r.labelNames).toEqual(['ham', 'spam']);
    expect(r.texts).toEqual(['Win money now', 'Lunch at noon? see you', 'Free offer']);
    expect(Array.from(r.labels)).toEqual([1, 0, 1]);
    expect(r.stats).toEqual({ lines: 5, examples: 3, emptyLines: 1, malformed: 0, invalidUtf8: 0 });
  });

  it('names file:line for each kind of malformed line', () => {
    const cases: [string, RegExp][] = [
      ['ham\tok\nno tab here\n', /bad1\.tsv:2: expected "label<TAB>text"/],
      ['ham\tok\nspam\tok\n\tmissing label\n', /bad2\.tsv:3: empty label/],
      ['spam\t   \n', /bad3\.tsv:1: empty text for label 'spam'/],
    ];
    cases.forEach(([content, message], i) => {
      const f = file(`bad${i + 1}.tsv`, content);
      expect(() => readLabelledTsv(f)).toThrow(DataError);
      expect(() => readLabelledTsv(f)).toThrow(message);
    });
  });

  it('uses a fixed label vocabulary so test ids match training ids', () => {
    const f = file('test.tsv', 'spam\ta\nham\tb\n');
    const r = readLabelledTsv(f, { labels: ['spam', 'ham'] });
    expect(r.labelNames).toEqual(['spam', 'ham']);
    expect(Array.from(r.labels)).toEqual([0, 1]);
    const g = file('unknown.tsv', 'spam\ta\neggs\tb\n');
    expect(() => readLabelledTsv(g, { labels: ['ham', 'spam'] })).toThrow(/unknown\.tsv:2: unknown label 'eggs'/);
    expect(() => readLabelledTsv(g, { labels: ['ham', 'ham'] })).toThrow(ConfigError);
  });

  it("skips and counts malformed lines with onMalformed: 'skip'", () => {
    const f = file('mixed.tsv', 'ham\tfine\nbroken\nspam\t\nspam\tgood\n');
    const r = readLabelledTsv(f, { onMalformed: 'skip' });
    expect(r.texts).toEqual(['fine', 'good']);
    expect(r.stats.malformed).toBe(2);
  });

  it('handles invalid UTF-8 and rejects files without examples', () => {
    const f = file('bytes.tsv', Buffer.concat([Buffer.from('ham\tgood\nspam\tbad '), Buffer.from([0xff, 0x0a])]));
    expect(readLabelledTsv(f).texts).toEqual(['good', 'bad \ufffd']);
    const skipped = readLabelledTsv(f, { invalidUtf8: 'skip' });
    expect(skipped.texts).toEqual(['good']);
    expect(skipped.stats.invalidUtf8).toBe(1);
    expect(() => readLabelledTsv(file('blank.tsv', '\n\n'))).toThrow(/no labelled examples/);
    expect(() => readLabelledTsv(join(dir, 'absent.tsv'))).toThrow(/absent\.tsv/);
  });
});

describe('bundled SpamAssassin subset', () => {
  it('has balanced 500/500 train/test splits of one-line texts and no overlap', () => {
    const { train, test } = bundledSpamFiles();
    const tr = readLabelledTsv(train);
    const te = readLabelledTsv(test, { labels: tr.labelNames });
    expect(tr.labelNames).toEqual(['ham', 'spam']);
    for (const split of [tr, te]) {
      expect(split.texts.length).toBe(500);
      expect(split.labels.reduce((n, l) => n + l, 0)).toBe(250);
      expect(split.stats.malformed + split.stats.invalidUtf8).toBe(0);
      for (const t of split.texts) {
        expect(t.length).toBeGreaterThan(20);
        expect(t.length).toBeLessThanOrEqual(600);
        expect(t).toMatch(/^Subject: /);
      }
    }
    const trainTexts = new Set(tr.texts);
    expect(te.texts.filter((t) => trainTexts.has(t))).toEqual([]);
  });
});
