/**
 * Plain-text corpus reader. Two layouts:
 *  - 'line': every non-empty line is one document;
 *  - 'paragraph': documents are separated by blank lines and each line of a
 *    document is one segment (sentence/paragraph); this is fairseq's RoBERTa
 *    pre-training layout and what the bundled corpus uses.
 * Bad input never throws: empty lines, invalid UTF-8 and over-long documents
 * are handled by policy and counted in `stats`.
 */
import { ConfigError } from '@d2v/core';
import { decodeLines, readDataFile, type InvalidUtf8Policy } from './utf8.js';

/** A document is a list of segments (lines); packing separates segments with </s>. */
export type TextDocument = string[];

export interface TextFileOptions {
  /** 'line' (default): one document per line; 'paragraph': blank-line separated documents. */
  mode?: 'line' | 'paragraph';
  /** What to do with a line holding invalid UTF-8: replace the bad bytes with U+FFFD (default) or drop the line. */
  invalidUtf8?: InvalidUtf8Policy;
  /** Documents longer than this many characters are split or truncated (default 1 000 000). */
  maxDocumentChars?: number;
  /** 'split' (default): cut into several documents of at most maxDocumentChars; 'truncate': keep the first part. */
  overlong?: 'split' | 'truncate';
}

export interface TextFileStats {
  files: number;
  lines: number;
  /** Documents returned (after splitting). */
  documents: number;
  segments: number;
  /** Blank or whitespace-only lines (document separators in 'paragraph' mode). */
  emptyLines: number;
  /** Lines with invalid UTF-8 (replaced or skipped per `invalidUtf8`). */
  invalidUtf8: number;
  /** Source documents longer than maxDocumentChars (split or truncated per `overlong`). */
  truncated: number;
}

export interface TextCorpus {
  documents: TextDocument[];
  stats: TextFileStats;
}

/** Large enough for any real document (the longest State of the Union address is 217k chars); catches runaway lines. */
const DEFAULT_MAX_CHARS = 1_000_000;

/** Cuts `text` into pieces of at most `max` chars, preferring whitespace boundaries and never splitting a surrogate pair. */
export function chunkText(text: string, max: number): string[] {
  const out: string[] = [];
  let start = 0;
  while (text.length - start > max) {
    let cut = start + max;
    const space = text.lastIndexOf(' ', cut);
    if (space > start + max / 2) {
      cut = space;
    } else {
      const code = text.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut--;
    }
    const piece = text.slice(start, cut).trim();
    if (piece) out.push(piece);
    start = cut;
  }
  const rest = text.slice(start).trim();
  if (rest) out.push(rest);
  return out;
}

/** Splits one over-long document into documents of at most `max` chars (segments kept whole when they fit). */
function splitDocument(doc: TextDocument, max: number): TextDocument[] {
  const out: TextDocument[] = [];
  let current: TextDocument = [];
  let size = 0;
  for (const seg of doc.flatMap((s) => (s.length > max ? chunkText(s, max) : [s]))) {
    if (size + seg.length > max && current.length > 0) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(seg);
    size += seg.length;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function validate(o: Required<TextFileOptions>): void {
  if (o.mode !== 'line' && o.mode !== 'paragraph') throw new ConfigError(`mode must be 'line' or 'paragraph', got '${o.mode}'`, 'mode');
  if (o.invalidUtf8 !== 'replace' && o.invalidUtf8 !== 'skip') {
    throw new ConfigError(`invalidUtf8 must be 'replace' or 'skip', got '${o.invalidUtf8}'`, 'invalidUtf8');
  }
  if (o.overlong !== 'split' && o.overlong !== 'truncate') {
    throw new ConfigError(`overlong must be 'split' or 'truncate', got '${o.overlong}'`, 'overlong');
  }
  if (!Number.isInteger(o.maxDocumentChars) || o.maxDocumentChars < 16) {
    throw new ConfigError(`maxDocumentChars must be an integer >= 16, got ${o.maxDocumentChars}`, 'maxDocumentChars');
  }
}

/** Reads documents from one or more UTF-8 text files (DataError only for a missing/unreadable file). */
export function readTextFiles(files: string | string[], options: TextFileOptions = {}): TextCorpus {
  const o: Required<TextFileOptions> = {
    mode: options.mode ?? 'line',
    invalidUtf8: options.invalidUtf8 ?? 'replace',
    maxDocumentChars: options.maxDocumentChars ?? DEFAULT_MAX_CHARS,
    overlong: options.overlong ?? 'split',
  };
  validate(o);
  const list = Array.isArray(files) ? files : [files];
  const stats: TextFileStats = { files: list.length, lines: 0, documents: 0, segments: 0, emptyLines: 0, invalidUtf8: 0, truncated: 0 };
  const documents: TextDocument[] = [];

  const emit = (doc: TextDocument) => {
    if (doc.length === 0) return;
    const chars = doc.reduce((n, s) => n + s.length, 0);
    let parts = [doc];
    if (chars > o.maxDocumentChars) {
      stats.truncated++;
      parts = splitDocument(doc, o.maxDocumentChars);
      if (o.overlong === 'truncate') parts = parts.slice(0, 1);
    }
    for (const p of parts) {
      documents.push(p);
      stats.segments += p.length;
    }
  };

  for (const file of list) {
    const { lines, invalidUtf8 } = decodeLines(readDataFile(file), o.invalidUtf8);
    stats.lines += lines.length;
    stats.invalidUtf8 += invalidUtf8;
    let current: TextDocument = [];
    for (const line of lines) {
      if (line === null) continue; // skipped invalid line: neither text nor a document break
      const text = line.trim();
      if (text.length === 0) {
        stats.emptyLines++;
        if (o.mode === 'paragraph') {
          emit(current);
          current = [];
        }
        continue;
      }
      if (o.mode === 'line') emit([text]);
      else current.push(text);
    }
    // A document never continues across files.
    emit(current);
  }
  stats.documents = documents.length;
  return { documents, stats };
}
