/**
 * `label<TAB>text` classification files. The label is everything before the
 * first tab, the text everything after it (later tabs become spaces). A first
 * line exactly `label<TAB>text` is a header and skipped. Blank lines are
 * skipped. A malformed line is an error naming `file:line`, or is skipped and
 * counted with `onMalformed: 'skip'`.
 */
import { ConfigError, DataError } from '@d2v/core';
import { decodeLines, readDataFile, type InvalidUtf8Policy } from './utf8.js';

export interface TsvOptions {
  /**
   * Fixed label vocabulary (index = class id). Give the training split's
   * `labelNames` when reading a test split so ids agree; a label outside it is
   * malformed. Default: the sorted distinct labels of this file.
   */
  labels?: string[];
  onMalformed?: 'error' | 'skip';
  invalidUtf8?: InvalidUtf8Policy;
}

export interface TsvStats {
  lines: number;
  examples: number;
  emptyLines: number;
  /** Malformed lines skipped (onMalformed: 'skip'). */
  malformed: number;
  invalidUtf8: number;
}

export interface LabelledTexts {
  texts: string[];
  /** Class id per text, indexing labelNames. */
  labels: Int32Array;
  labelNames: string[];
  stats: TsvStats;
}

/** A first line exactly `label<TAB>text` is a header. */
export const TSV_HEADER = /^label\ttext$/i;

/** One `label<TAB>text` line, or what is wrong with it. */
export function parseLabelledLine(line: string): { label: string; text: string } | string {
  const tab = line.indexOf('\t');
  if (tab < 0) return 'expected "label<TAB>text" but the line has no tab';
  const label = line.slice(0, tab).trim();
  const text = line.slice(tab + 1).replace(/\t/g, ' ').trim();
  if (!label) return 'empty label before the tab';
  if (!text) return `empty text for label '${label}'`;
  return { label, text };
}

/** Reads a `label<TAB>text` file into texts and integer labels. */
export function readLabelledTsv(file: string, options: TsvOptions = {}): LabelledTexts {
  const onMalformed = options.onMalformed ?? 'error';
  if (onMalformed !== 'error' && onMalformed !== 'skip') {
    throw new ConfigError(`onMalformed must be 'error' or 'skip', got '${onMalformed}'`, 'onMalformed');
  }
  if (options.labels) {
    if (options.labels.length === 0) throw new ConfigError('labels must not be empty', 'labels');
    if (new Set(options.labels).size !== options.labels.length) throw new ConfigError('labels contain duplicates', 'labels');
  }
  const { lines, invalidUtf8 } = decodeLines(readDataFile(file), options.invalidUtf8 ?? 'replace');
  const stats: TsvStats = { lines: lines.length, examples: 0, emptyLines: 0, malformed: 0, invalidUtf8 };
  const rows: { label: string; text: string }[] = [];
  const known = options.labels ? new Set(options.labels) : null;

  lines.forEach((line, i) => {
    if (line === null) return; // invalid UTF-8, skipped by policy and counted
    if (line.trim() === '') {
      stats.emptyLines++;
      return;
    }
    if (i === 0 && TSV_HEADER.test(line.trim())) return;
    let parsed = parseLabelledLine(line);
    if (typeof parsed !== 'string' && known && !known.has(parsed.label)) {
      parsed = `unknown label '${parsed.label}' (expected one of: ${options.labels!.join(', ')})`;
    }
    if (typeof parsed === 'string') {
      if (onMalformed === 'error') throw new DataError(`${file}:${i + 1}`, parsed);
      stats.malformed++;
      return;
    }
    rows.push(parsed);
  });

  if (rows.length === 0) throw new DataError(file, 'no labelled examples (expected lines "label<TAB>text")');
  const labelNames = options.labels ? [...options.labels] : [...new Set(rows.map((r) => r.label))].sort();
  const index = new Map(labelNames.map((l, i) => [l, i]));
  stats.examples = rows.length;
  return {
    texts: rows.map((r) => r.text),
    labels: Int32Array.from(rows, (r) => index.get(r.label)!),
    labelNames,
    stats,
  };
}
