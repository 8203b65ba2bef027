/**
 * Files written by `d2v predict` and `d2v embed`.
 *
 * Predictions: JSON Lines (one object per input: `input` and what the head says; then one line
 * `{"input": ..., "skipped": reason}` per unreadable input) or CSV (one row per input; nested
 * fields flattened to `probabilities.<label>` columns; a `skipped` column holds the reason).
 *
 * Embeddings: safetensors with tensor `features` (float32 [rows, dim]) and, for per-step features
 * (pool none), `offsets` (int32 [inputs + 1]: input i's steps are rows offsets[i] .. offsets[i+1]-1);
 * the metadata holds the input names (`inputs`, a JSON array in row order), the skipped inputs and
 * how the features were made. `--npy` adds `<base>.npy` (+ `<base>.offsets.npy`) and `<base>.inputs.json`.
 */
import { extname } from 'node:path';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { encodeSafetensors, type RawTensor } from '../io/safetensors.js';
import { encodeNpy } from '../io/npy.js';
import type { Embeddings, Predictions } from './model.js';

export const PREDICTION_FORMATS = ['.jsonl', '.csv'] as const;

/** The prediction file format of a path, from its extension. */
export function predictionFormat(file: string): 'jsonl' | 'csv' {
  const ext = extname(file).toLowerCase();
  if (ext === '.jsonl') return 'jsonl';
  if (ext === '.csv') return 'csv';
  throw new ConfigError(`--output ${file}: write predictions to a .jsonl or .csv file`, 'output');
}

/** JSON Lines: the records in input order, then one line per skipped input. */
export function predictionsToJsonl(p: Predictions): string {
  const lines = [...p.records.map((r) => JSON.stringify(r)), ...p.skipped.map((s) => JSON.stringify({ input: s.input, skipped: s.reason }))];
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** A record's fields one level deep: { probabilities: { a: 0.1 } } -> 'probabilities.a'. */
function flatten(record: Record<string, unknown>): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(record)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) for (const [k2, v2] of Object.entries(v)) out.set(`${k}.${k2}`, v2);
    else out.set(k, v);
  }
  return out;
}

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV (RFC 4180): a header of every field seen, one row per input, skipped inputs last with their reason. */
export function predictionsToCsv(p: Predictions): string {
  const rows = p.records.map(flatten);
  const columns = ['input'];
  for (const r of rows) for (const k of r.keys()) if (!columns.includes(k)) columns.push(k);
  columns.push('skipped');
  const lines = [columns.map(csvCell).join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvCell(r.get(c))).join(','));
  for (const s of p.skipped) lines.push(columns.map((c) => csvCell(c === 'input' ? s.input : c === 'skipped' ? s.reason : '')).join(','));
  return `${lines.join('\n')}\n`;
}

export function writePredictions(file: string, p: Predictions): void {
  writeFileAtomic(file, predictionFormat(file) === 'csv' ? predictionsToCsv(p) : predictionsToJsonl(p));
}

/** How to read the rows of an embeddings file, stored in its metadata. */
export function embeddingsLayout(e: Pick<Embeddings, 'pool'>): string {
  return e.pool === 'none'
    ? 'features [rows, dim]: every input\'s steps one after another; input i (metadata "inputs"[i]) is rows offsets[i] .. offsets[i+1]-1'
    : 'features [inputs, dim]: row i is the mean over the steps of input i (metadata "inputs"[i])';
}

/** The safetensors bytes of embeddings; `extra` metadata (run, step, ...) is added as strings. */
export function embeddingsToSafetensors(e: Embeddings, extra: Record<string, string> = {}): Uint8Array {
  const tensors: Record<string, RawTensor> = { features: { dtype: 'F32', shape: [e.rows, e.dim], data: e.features } };
  if (e.offsets) tensors['offsets'] = { dtype: 'I32', shape: [e.offsets.length], data: e.offsets };
  const metadata: Record<string, string> = {
    format: 'd2v-embeddings',
    inputs: JSON.stringify(e.names),
    skipped: JSON.stringify(e.skipped),
    pool: e.pool,
    layers: e.layers,
    ...(e.topK !== undefined ? { topK: String(e.topK) } : {}),
    dim: String(e.dim),
    layout: embeddingsLayout(e),
    ...extra,
  };
  return encodeSafetensors(tensors, metadata);
}

/** Embeddings are written to .safetensors files only. */
export function checkEmbeddingsFile(file: string): void {
  if (extname(file).toLowerCase() !== '.safetensors') throw new ConfigError(`--out ${file}: write embeddings to a .safetensors file`, 'out');
}

/** Writes `file` (.safetensors) and, with `npy`, the .npy files and input names beside it; returns every path written. */
export function writeEmbeddings(file: string, e: Embeddings, extra: Record<string, string> = {}, npy = false): string[] {
  checkEmbeddingsFile(file);
  writeFileAtomic(file, embeddingsToSafetensors(e, extra));
  const written = [file];
  if (npy) {
    const base = file.slice(0, -'.safetensors'.length);
    const add = (path: string, data: string | Uint8Array) => {
      writeFileAtomic(path, data);
      written.push(path);
    };
    add(`${base}.npy`, encodeNpy(e.features, [e.rows, e.dim]));
    if (e.offsets) add(`${base}.offsets.npy`, encodeNpy(e.offsets, [e.offsets.length]));
    add(`${base}.inputs.json`, `${JSON.stringify({ inputs: e.names, skipped: e.skipped, layout: embeddingsLayout(e) }, null, 2)}\n`);
  }
  return written;
}
