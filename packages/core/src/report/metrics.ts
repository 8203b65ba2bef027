/**
 * Run metrics as JSON Lines in `<runDir>/metrics.jsonl`: one record per line,
 * written straight to the file descriptor so that a crash loses at most the
 * line being written, and readable while the run is still going.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { D2vError, DataError, asFileSystemError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';

export type MetricValue = number | string | boolean | null;

/** One logged record. `step` orders records and is what resuming truncates on. */
export interface MetricRecord {
  step: number;
  [key: string]: MetricValue;
}

export const METRICS_FILE = 'metrics.jsonl';

export interface MetricsLogOptions {
  /** Start an empty log instead of appending to an existing one. Default false. */
  overwrite?: boolean;
  /** fsync after every line: survives power loss, not just a process crash, at a cost per step. Default false. */
  fsync?: boolean;
}

// JSON has no NaN/Infinity; a diverged loss must still be visible in the log, so they travel as strings.
const NON_FINITE = new Map<string, number>([
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
]);

function encodeValue(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? String(value) : value;
}

function decodeValue(_key: string, value: unknown): unknown {
  return typeof value === 'string' && NON_FINITE.has(value) ? NON_FINITE.get(value) : value;
}

function parseRecord(file: string, lineNumber: number, line: string): MetricRecord {
  let value: unknown;
  try {
    value = JSON.parse(line, decodeValue);
  } catch (error) {
    throw new DataError(file, `line ${lineNumber} is not valid JSON`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DataError(file, `line ${lineNumber} is not a JSON object`);
  }
  const step = (value as Record<string, unknown>).step;
  if (typeof step !== 'number' || !Number.isFinite(step)) {
    throw new DataError(file, `line ${lineNumber} has no numeric "step"`);
  }
  return value as MetricRecord;
}

/** Parse JSONL text, skipping an unparseable last line that has no newline (a write cut short by a crash). */
function parseLog(file: string, text: string): MetricRecord[] {
  const lines = text.split('\n');
  // Text ending in '\n' leaves an empty last element; otherwise the last line was never completed.
  const tail = lines.pop() ?? '';
  const records: MetricRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() !== '') records.push(parseRecord(file, i + 1, line));
  });
  if (tail.trim() !== '') {
    try {
      records.push(parseRecord(file, lines.length + 1, tail));
    } catch {
      // The fragment is dropped: its record was never fully written.
    }
  }
  return records;
}

/**
 * Read a metrics file. A malformed last line without a newline is taken to be
 * a write cut short by a crash and skipped; a malformed line elsewhere is
 * corruption and raises DataError.
 */
export function readMetrics(file: string): MetricRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new DataError(file, `cannot read metrics: ${(error as Error).message}`, { cause: error });
  }
  return parseLog(file, text);
}

function serialize(records: MetricRecord[]): string {
  return records.map((record) => `${JSON.stringify(record, encodeValue)}\n`).join('');
}

export class MetricsLog {
  readonly file: string;
  private fd: number | null = null;
  private readonly fsync: boolean;

  constructor(runDir: string, options: MetricsLogOptions = {}) {
    this.file = path.join(runDir, METRICS_FILE);
    this.fsync = options.fsync ?? false;
    fs.mkdirSync(runDir, { recursive: true });
    if (options.overwrite) {
      fs.writeFileSync(this.file, '');
    } else if (fs.existsSync(this.file)) {
      this.repairTail();
    }
    this.open();
  }

  /** Append one record as a line. Non-finite numbers are stored as "NaN"/"Infinity" and read back as numbers. */
  log(record: MetricRecord): void {
    if (this.fd === null) throw new D2vError('METRICS_CLOSED', `${this.file}: log() after close()`);
    if (typeof record.step !== 'number' || !Number.isFinite(record.step)) {
      throw new DataError(this.file, `record needs a finite numeric "step", got ${String(record.step)}`);
    }
    try {
      fs.writeSync(this.fd, `${JSON.stringify(record, encodeValue)}\n`);
      if (this.fsync) fs.fsyncSync(this.fd);
    } catch (err) {
      throw asFileSystemError(err, this.file);
    }
  }

  /** All records written so far (including those from earlier runs in this directory). */
  read(): MetricRecord[] {
    return readMetrics(this.file);
  }

  /**
   * Drop records with step > `step`, for resuming from a checkpoint at that
   * step: the steps after it will be logged again. Returns how many were dropped.
   */
  truncateAfter(step: number): number {
    const records = this.read();
    const kept = records.filter((record) => record.step <= step);
    this.close();
    // Flushed to disk like a checkpoint: a power loss leaves the old log or the new one, never half.
    writeFileAtomic(this.file, serialize(kept));
    this.open();
    return records.length - kept.length;
  }

  close(): void {
    if (this.fd === null) return;
    fs.closeSync(this.fd);
    this.fd = null;
  }

  private open(): void {
    this.fd = fs.openSync(this.file, 'a');
  }

  /** Appending after a half-written line would glue two records together, so drop the fragment first. */
  private repairTail(): void {
    const text = fs.readFileSync(this.file, 'utf8');
    if (text === '' || text.endsWith('\n')) return;
    // A complete record that only lacks its newline is kept; a fragment is dropped.
    writeFileAtomic(this.file, serialize(parseLog(this.file, text)));
  }
}
