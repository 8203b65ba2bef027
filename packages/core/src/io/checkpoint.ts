/**
 * Checkpoints of a run: `<runDir>/checkpoints/step-NNNNNNNN/` holding one
 * `<group>.safetensors` per tensor group, state.json, config.json and a
 * manifest.json with the SHA-256 and size of every file. A checkpoint folder
 * appears whole (built under a temporary name, then renamed); the last
 * `keepLast` are kept and `checkpoints/latest` names the newest.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CheckpointError, ConfigError } from '../errors.js';
import { removeForeignTemps, restoreInterruptedReplacements, writeDirAtomic, writeFileAtomic } from './atomic.js';
import { diffConfig } from './configDiff.js';
import { decodeSafetensors, safetensorsToTensors, tensorsToSafetensors } from './safetensors.js';

/** Version of the folder layout; bumped on incompatible changes. */
export const CHECKPOINT_FORMAT = 1;
const STEP_DIR = /^step-(\d{8,})$/;
const GROUP_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const TENSOR_EXT = '.safetensors';
const MANIFEST = 'manifest.json';
const LATEST = 'latest';

export type TensorGroups = Record<string, Record<string, tf.Tensor>>;

export interface CheckpointPayload {
  step: number;
  /** Named tensor groups (student, teacher, optimizer, ...), each written as `<group>.safetensors`. */
  groups: TensorGroups;
  /** JSON trainer state (RNG, optimizer step, ...); `step` is added. */
  state: Record<string, unknown>;
  /** The run's resolved config. */
  config: Record<string, unknown>;
}

export interface LoadedCheckpoint {
  dir: string;
  step: number;
  groups: TensorGroups;
  state: Record<string, unknown>;
  config: Record<string, unknown>;
  /** Disposes every tensor of every group (tensors already disposed are skipped). */
  dispose(): void;
}

export interface LoadOptions {
  /** When given, compared key by key with the stored config; any difference is an error. */
  expectConfig?: object;
  /** Dotted keys (and everything under them) allowed to differ, e.g. 'train.steps', 'out', 'resume'. */
  ignoreKeys?: readonly string[];
}

interface Manifest {
  format: number;
  step: number;
  created: string;
  files: Record<string, { sha256: string; bytes: number }>;
}

export const stepDirName = (step: number) => `step-${String(step).padStart(8, '0')}`;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

export class CheckpointManager {
  /** `<runDir>/checkpoints` */
  readonly dir: string;
  readonly keepLast: number;

  constructor(
    readonly runDir: string,
    opts: { keepLast: number },
  ) {
    if (!Number.isInteger(opts.keepLast) || opts.keepLast < 1) {
      throw new ConfigError(`keepLast must be an integer >= 1 (got ${opts.keepLast}): the newest checkpoint is always kept`, 'train.keepLast');
    }
    this.dir = join(runDir, 'checkpoints');
    this.keepLast = opts.keepLast;
  }

  /** Writes the checkpoint of `p.step` (replacing one of the same step), points `latest` at it, prunes old ones. Returns its folder. */
  async save(p: CheckpointPayload): Promise<string> {
    if (!Number.isSafeInteger(p.step) || p.step < 0) throw new CheckpointError(this.dir, `cannot save step ${p.step}: steps are non-negative integers`);
    for (const g of Object.keys(p.groups)) {
      if (!GROUP_NAME.test(g)) throw new CheckpointError(this.dir, `cannot save tensor group ${JSON.stringify(g)}: group names become file names (letters, digits, _ . -)`);
    }
    const name = stepDirName(p.step);
    const final = join(this.dir, name);
    let stateJson: string;
    let configJson: string;
    try {
      stateJson = JSON.stringify({ ...p.state, step: p.step }, null, 2) + '\n';
      configJson = JSON.stringify(p.config, null, 2) + '\n';
    } catch (err) {
      throw new CheckpointError(final, `state or config is not JSON-serialisable (${firstLine(err)})`);
    }
    await writeDirAtomic(final, async (tmp) => {
      const files: Manifest['files'] = {};
      const put = (file: string, bytes: Uint8Array) => {
        writeFileSync(join(tmp, file), bytes);
        files[file] = { sha256: sha256(bytes), bytes: bytes.length };
      };
      for (const [group, tensors] of Object.entries(p.groups)) {
        const file = `${group}${TENSOR_EXT}`;
        put(file, await tensorsToSafetensors(tensors, { group, step: String(p.step) }, join(final, file), { finiteOnly: true }));
      }
      put('state.json', Buffer.from(stateJson, 'utf8'));
      put('config.json', Buffer.from(configJson, 'utf8'));
      const manifest: Manifest = { format: CHECKPOINT_FORMAT, step: p.step, created: new Date().toISOString(), files };
      writeFileSync(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    });
    // The pointer moves before pruning, so it never names a deleted folder.
    writeFileAtomic(join(this.dir, LATEST), `${name}\n`);
    this.prune(final);
    return final;
  }

  /**
   * Complete checkpoints, oldest first. Temporary folders of an interrupted
   * save are not listed; a checkpoint whose replacement was interrupted by a
   * crash is first put back.
   */
  list(): { step: number; dir: string }[] {
    if (!existsSync(this.dir)) return [];
    restoreInterruptedReplacements(this.dir);
    const out: { step: number; dir: string }[] = [];
    for (const n of readdirSync(this.dir)) {
      const m = STEP_DIR.exec(n);
      if (m && existsSync(join(this.dir, n, MANIFEST))) out.push({ step: Number(m[1]), dir: join(this.dir, n) });
    }
    return out.sort((a, b) => a.step - b.step);
  }

  /** The folder named by `latest` if it is complete, else the highest complete step, else undefined. */
  latestDir(): string | undefined {
    if (!existsSync(this.dir)) return undefined;
    restoreInterruptedReplacements(this.dir);
    const pointer = join(this.dir, LATEST);
    if (existsSync(pointer)) {
      const name = readFileSync(pointer, 'utf8').trim();
      if (STEP_DIR.test(name) && existsSync(join(this.dir, name, MANIFEST))) return join(this.dir, name);
    }
    return this.list().at(-1)?.dir;
  }

  /**
   * Loads a checkpoint folder (default: latestDir()) after checking every file
   * against the manifest, and, with `expectConfig`, that the stored config
   * matches. The caller owns the returned tensors (see LoadedCheckpoint.dispose).
   */
  async load(dir?: string, opts: LoadOptions = {}): Promise<LoadedCheckpoint> {
    const d = dir ?? this.latestDir();
    if (d === undefined) throw new CheckpointError(this.dir, 'no checkpoint found to load (nothing was saved in this run folder yet)');
    if (!existsSync(d) || !statSync(d).isDirectory()) throw new CheckpointError(d, 'checkpoint folder does not exist');
    const manifest = readManifest(d);
    const readJson = (file: string) => {
      const text = Buffer.from(readVerified(d, manifest, file)).toString('utf8');
      try {
        return JSON.parse(text) as Record<string, unknown>;
      } catch (err) {
        throw new CheckpointError(join(d, file), `is not valid JSON (${firstLine(err)})`);
      }
    };
    const config = readJson('config.json');
    if (opts.expectConfig) {
      const diffs = diffConfig(config, opts.expectConfig as Record<string, unknown>, opts.ignoreKeys);
      if (diffs.length) throw new CheckpointError(join(d, 'config.json'), `config mismatch: ${diffs.join('; ')}`);
    }
    const state = readJson('state.json');
    const groups: TensorGroups = Object.create(null);
    const dispose = () => Object.values(groups).forEach((g) => tf.dispose(Object.values(g)));
    try {
      for (const file of Object.keys(manifest.files).filter((f) => f.endsWith(TENSOR_EXT)).sort()) {
        const path = join(d, file);
        groups[file.slice(0, -TENSOR_EXT.length)] = safetensorsToTensors(decodeSafetensors(readVerified(d, manifest, file), path), path);
      }
    } catch (err) {
      dispose();
      throw err;
    }
    return { dir: d, step: manifest.step, groups, state, config, dispose };
  }

  /** The step and stored config of a checkpoint folder, verified against its manifest (no tensors are read). */
  readConfig(dir: string): { step: number; config: Record<string, unknown> } {
    const manifest = readManifest(dir);
    const file = join(dir, 'config.json');
    try {
      return { step: manifest.step, config: JSON.parse(Buffer.from(readVerified(dir, manifest, 'config.json')).toString('utf8')) as Record<string, unknown> };
    } catch (err) {
      if (err instanceof CheckpointError) throw err;
      throw new CheckpointError(file, `is not valid JSON (${firstLine(err)})`);
    }
  }

  /** Keeps `keep` plus the newest keepLast-1 others; also clears temporaries of crashed processes. */
  private prune(keep: string): void {
    const others = this.list().filter((c) => c.dir !== keep);
    const excess = others.length - (this.keepLast - 1);
    for (const c of others.slice(0, Math.max(0, excess))) rmSync(c.dir, { recursive: true, force: true });
    removeForeignTemps(this.dir);
  }
}

function readManifest(dir: string): Manifest {
  const file = join(dir, MANIFEST);
  if (!existsSync(file)) throw new CheckpointError(file, 'is missing: the folder is not a complete checkpoint');
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch (err) {
    throw new CheckpointError(file, `is corrupt: not valid JSON (${firstLine(err)})`);
  }
  const bad = (why: string): never => {
    throw new CheckpointError(file, `is corrupt: ${why}`);
  };
  if (m === null || typeof m !== 'object') bad('not a JSON object');
  if (m.format !== CHECKPOINT_FORMAT) bad(`checkpoint format ${JSON.stringify(m.format)} is not supported (this version reads format ${CHECKPOINT_FORMAT})`);
  if (!Number.isSafeInteger(m.step) || m.step < 0) bad(`step ${JSON.stringify(m.step)} is not a non-negative integer`);
  const dirStep = STEP_DIR.exec(basename(dir));
  if (dirStep && Number(dirStep[1]) !== m.step) bad(`it records step ${m.step} but the folder is step ${Number(dirStep[1])}`);
  if (m.files === null || typeof m.files !== 'object') bad('no file list');
  for (const [name, f] of Object.entries(m.files)) {
    if (!/^[^/\\]+$/.test(name) || name === '.' || name === '..') bad(`file name ${JSON.stringify(name)} is not a plain file name`);
    if (!f || typeof f.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(f.sha256) || !Number.isSafeInteger(f.bytes) || f.bytes < 0) bad(`entry of ${name} lacks a valid sha256 and size`);
  }
  for (const required of ['config.json', 'state.json']) if (!(required in m.files)) bad(`${required} is not listed`);
  return m;
}

/** The bytes of `file` after checking its size and SHA-256 against the manifest. */
function readVerified(dir: string, manifest: Manifest, file: string): Uint8Array {
  const path = join(dir, file);
  const want = manifest.files[file];
  if (!want) throw new CheckpointError(path, 'is not listed in the manifest');
  if (!existsSync(path)) throw new CheckpointError(path, 'is missing from the checkpoint');
  const size = statSync(path).size;
  if (size !== want.bytes) throw new CheckpointError(path, `is corrupt or truncated: ${size} bytes, the manifest says ${want.bytes}`);
  const bytes = readFileSync(path);
  if (sha256(bytes) !== want.sha256) throw new CheckpointError(path, 'is corrupt: its SHA-256 does not match the manifest');
  return bytes;
}
