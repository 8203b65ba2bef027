/**
 * Input files a data loader left out (`data.skipBad`): logs name only the first and the count, so a
 * training run writes every one of them, with the reason, into `<runDir>/skipped-files.tsv`.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';

/** A file a loader could not read and left out, and why. */
export interface SkippedFile {
  file: string;
  reason: string;
}

export const SKIPPED_FILES = 'skipped-files.tsv';

/** Writes `file<TAB>reason` lines (tabs and newlines in either become spaces) to `<runDir>/skipped-files.tsv`; returns its path. */
export function writeSkippedFiles(runDir: string, skipped: readonly SkippedFile[]): string {
  const clean = (s: string) => s.replace(/[\t\r\n]+/g, ' ');
  const path = join(runDir, SKIPPED_FILES);
  writeFileAtomic(path, ['file\treason', ...skipped.map((s) => `${clean(s.file)}\t${clean(s.reason)}`)].join('\n') + '\n');
  return path;
}
