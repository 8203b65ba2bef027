/**
 * Line-oriented UTF-8 decoding that never throws on bad bytes: a file is
 * decoded strictly, and only when that fails is it decoded line by line so
 * each invalid line can be counted and replaced (U+FFFD) or skipped.
 */
import { readFileSync, statSync } from 'node:fs';
import { DataError } from '@d2v/core';

export type InvalidUtf8Policy = 'replace' | 'skip';

export interface DecodedLines {
  /** One entry per line (1-based line n is lines[n-1]); null for a skipped invalid line. */
  lines: (string | null)[];
  /** Lines containing invalid UTF-8. */
  invalidUtf8: number;
}

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const lenient = new TextDecoder('utf-8', { fatal: false, ignoreBOM: false });

/** Whole-file decoding builds one string; above this size we decode per line to stay under V8's string limit. */
const WHOLE_FILE_LIMIT = 64 * 1024 * 1024;

function splitText(text: string): string[] {
  const lines = text.split('\n');
  // A final newline ends the last line rather than starting an empty one.
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
  }
  return lines;
}

function decodeLineByLine(bytes: Uint8Array, policy: InvalidUtf8Policy): DecodedLines {
  const lines: (string | null)[] = [];
  let invalidUtf8 = 0;
  let start = 0;
  // A UTF-8 BOM belongs to no line.
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    let stop = end;
    if (stop > start && bytes[stop - 1] === 0x0d) stop--;
    const raw = bytes.subarray(start, stop);
    try {
      lines.push(strict.decode(raw));
    } catch {
      invalidUtf8++;
      lines.push(policy === 'replace' ? lenient.decode(raw) : null);
    }
    start = end + 1;
  }
  return { lines, invalidUtf8 };
}

/** Splits `bytes` into lines ('\n' or '\r\n'), handling invalid UTF-8 per `policy`. */
export function decodeLines(bytes: Uint8Array, policy: InvalidUtf8Policy = 'replace'): DecodedLines {
  if (bytes.length <= WHOLE_FILE_LIMIT) {
    try {
      const text = strict.decode(bytes);
      return { lines: text.length === 0 ? [] : splitText(text), invalidUtf8: 0 };
    } catch {
      // Fall through: find the offending lines.
    }
  }
  return decodeLineByLine(bytes, policy);
}

/** Reads a file's bytes; DataError naming the file when it is missing or not a regular file. */
export function readDataFile(file: string): Uint8Array {
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch (e) {
    throw new DataError(file, 'file not found or unreadable', { cause: e });
  }
  if (!isFile) throw new DataError(file, 'not a regular file');
  return readFileSync(file);
}
