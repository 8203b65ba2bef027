import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { ConfigError, DataError } from '@d2v/core';
import { tempFiles } from '@d2v/core/testing';
import { chunkText, readTextFiles } from '../src/data/textFiles.js';
import { decodeLines } from '../src/data/utf8.js';

const { dir, file } = tempFiles('text');

describe('readTextFiles', () => {
  it("'line' mode: one document per non-empty line, CRLF and BOM handled", () => {
    const f = file('lines.txt', '\ufefffirst doc\r\n\r\n   \nsecond doc  \n\nthird\n');
    const { documents, stats } = readTextFiles(f);
    expect(documents).toEqual([['first doc'], ['second doc'], ['third']]);
    expect(stats).toEqual({ files: 1, lines: 6, documents: 3, segments: 3, emptyLines: 3, invalidUtf8: 0, truncated: 0 });
  });

  it("'paragraph' mode: blank lines separate documents, lines are segments, files never merge", () => {
    const a = file('para-a.txt', 'A one.\nA two.\n\n\nB one.\n');
    const b = file('para-b.txt', 'C one.\nC two.');
    const { documents, stats } = readTextFiles([a, b], { mode: 'paragraph' });
    expect(documents).toEqual([['A one.', 'A two.'], ['B one.'], ['C one.', 'C two.']]);
    expect(stats.documents).toBe(3);
    expect(stats.segments).toBe(5);
    expect(stats.emptyLines).toBe(2);
    expect(stats.files).toBe(2);
  });

  it('counts invalid UTF-8 lines and replaces or skips them', () => {
    const bytes = Buffer.concat([
      Buffer.from('good line\n'),
      Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0xfe, 0x0a]), // "bad " + invalid bytes
      Buffer.from('caf\u00e9 ok\n'),
      Buffer.from([0xc3, 0x28, 0x0a]), // truncated 2-byte sequence
      Buffer.from('last'),
    ]);
    const f = file('bad-utf8.txt', bytes);
    const replaced = readTextFiles(f);
    expect(replaced.stats.invalidUtf8).toBe(2);
    expect(replaced.documents.map((d) => d[0])).toEqual(['good line', 'bad \ufffd\ufffd', 'café ok', '\ufffd(', 'last']);
    const skipped = readTextFiles(f, { invalidUtf8: 'skip' });
    expect(skipped.stats.invalidUtf8).toBe(2);
    expect(skipped.documents.map((d) => d[0])).toEqual(['good line', 'café ok', 'last']);
    expect(skipped.stats.lines).toBe(5);
  });

  it('splits or truncates a 1 MB single line without crashing', () => {
    const words = Array.from({ length: 220_000 }, (_, i) => `w${i % 1000}`).join(' ');
    const line = words.slice(0, 1 << 20); // 1 MiB of ASCII
    const f = file('huge.txt', `short doc\n${line}\n`);
    const split = readTextFiles(f, { maxDocumentChars: 50_000 });
    expect(split.stats.truncated).toBe(1);
    expect(split.documents.length).toBeGreaterThanOrEqual(1 + 20);
    expect(split.documents.every((d) => d.join('').length <= 50_000)).toBe(true);
    // Splitting happens at spaces: rejoining restores the text.
    expect(split.documents.slice(1).map((d) => d[0]).join(' ')).toBe(line.trim());
    const truncated = readTextFiles(f, { maxDocumentChars: 50_000, overlong: 'truncate' });
    expect(truncated.stats.truncated).toBe(1);
    expect(truncated.documents.length).toBe(2);
    expect(truncated.documents[1]![0]!.length).toBeLessThanOrEqual(50_000);
    expect(line.startsWith(truncated.documents[1]![0]!)).toBe(true);
    // The default limit (1 000 000 chars) also catches it.
    const byDefault = readTextFiles(f);
    expect(byDefault.stats.truncated).toBe(1);
    expect(byDefault.documents.length).toBe(3);
  });

  it('splits an over-long paragraph document between segments', () => {
    const seg = 'x'.repeat(30);
    const f = file('long-para.txt', `${[seg, seg, seg, seg].join('\n')}\n`);
    const { documents, stats } = readTextFiles(f, { mode: 'paragraph', maxDocumentChars: 70 });
    expect(documents).toEqual([[seg, seg], [seg, seg]]);
    expect(stats.truncated).toBe(1);
  });

  it('names the file when it is missing; rejects bad options', () => {
    expect(() => readTextFiles(join(dir, 'absent.txt'))).toThrow(DataError);
    expect(() => readTextFiles(join(dir, 'absent.txt'))).toThrow(/absent\.txt/);
    expect(() => readTextFiles(dir)).toThrow(/not a regular file/);
    const f = file('ok.txt', 'x\n');
    expect(() => readTextFiles(f, { mode: 'sentence' as never })).toThrow(ConfigError);
    expect(() => readTextFiles(f, { maxDocumentChars: 0 })).toThrow(ConfigError);
  });

  it('treats an empty file as no documents', () => {
    const { documents, stats } = readTextFiles(file('empty.txt', ''));
    expect(documents).toEqual([]);
    expect(stats.lines).toBe(0);
  });
});

describe('helpers', () => {
  it('chunkText never splits a surrogate pair and prefers spaces', () => {
    const emoji = '🐋'.repeat(40);
    for (const piece of chunkText(emoji, 17)) {
      expect(piece.length).toBeLessThanOrEqual(17);
      expect(piece.length % 2).toBe(0);
    }
    expect(chunkText(emoji, 17).join('')).toBe(emoji);
    expect(chunkText('aaaa bbbb cccc', 10)).toEqual(['aaaa bbbb', 'cccc']);
  });

  it('decodeLines gives the same lines strictly and line by line', () => {
    const text = 'α\r\nβ\n\nγ\n';
    const good = decodeLines(Buffer.from(text));
    expect(good.lines).toEqual(['α', 'β', '', 'γ']);
    const withBad = decodeLines(Buffer.concat([Buffer.from(text), Buffer.from([0x80, 0x0a])]));
    expect(withBad.lines).toEqual(['α', 'β', '', 'γ', '\ufffd']);
    expect(withBad.invalidUtf8).toBe(1);
  });
});
