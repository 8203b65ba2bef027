/**
 * Checkpoints of a run: `<runDir>/checkpoints/step-NNNNNNNN/` with one
 * safetensors file per tensor group, state.json, config.json and a manifest
 * of SHA-256 hashes. Each is written atomically; the last N are kept.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from '../errors.js';
import { TEMP_DIR_PREFIX, writeDirAtomic, writeFileAtomic } from './atomic.js';
import { decodeSafetensors, safetensorsToTensors, tensorsToSafetensors } from './safetensors.js';

export const CHECKPOINT_FORMAT = 1;

export interface CheckpointPayload {
  step: number;
  /** Named tensor groups, each written as `<group>.safetensors`. */
  groups: Record<string, Record<string, tf.Tensor>>;
  /** JSON trainer state (RNG, optimizer step, ...). */
  state: Record<string, unknown>;
  /** The run's resolved config. */
  config: Record<string, unknown>;
}

export interface LoadedCheckpoint {
  dir: string;
  step: number;
  groups: Record<string, Record<string, tf.Tensor>>;
  state: Record<string, unknown>;
  config: Record<string, unknown>;
  dispose(): void;
}

export interface LoadOptions {
  /** Compared key by key with the stored config. */
  expectConfig?: object;
  /** Dotted keys (or prefixes) allowed to differ. */
  ignoreKeys?: string[];
}

interface Manifest {
  format: number;
  step: number;
  created: string;
  files: Record<string, { sha256: string; bytes: number }>;
}

const stepDirName = (step: number) => `step-${String(step).padStart(8, '0')}`;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export class CheckpointManager {
  readonly dir: string;
  constructor(
    readonly runDir: string,
    readonly opts: { keepLast: number },
  ) {
    this.dir = join(runDir, 'checkpoints');
  }

  async save(p: CheckpointPayload): Promise<string> {
    const final = join(this.dir, stepDirName(p.step));
    await writeDirAtomic(final, async (tmp) => {
      const files: Manifest['files'] = {};
      const put = (name: string, bytes: Uint8Array) => {
        writeFileSync(join(tmp, name), bytes);
        files[name] = { sha256: sha256(bytes), bytes: bytes.length };
      };
      for (const [group, tensors] of Object.entries(p.groups)) {
        put(`${group}.safetensors`, await tensorsToSafetensors(tensors, { group, step: String(p.step) }));
      }
      put('state.json', Buffer.from(JSON.stringify({ ...p.state, step: p.step }, null, 2) + '\n'));
      put('config.json', Buffer.from(JSON.stringify(p.config, null, 2) + '\n'));
      const manifest: Manifest = { format: CHECKPOINT_FORMAT, step: p.step, created: new Date().toISOString(), files };
      writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    });
    writeFileAtomic(join(this.dir, 'latest'), stepDirName(p.step) + '\n');
    this.prune(final);
    return final;
  }

  /** Complete checkpoints (with a manifest), oldest first; temp folders of a crashed save are ignored. */
  list(): { step: number; dir: string }[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((n) => /^step-\d{8,}$/.test(n) && existsSync(join(this.dir, n, 'manifest.json')))
      .map((n) => ({ step: Number(n.slice(5)), dir: join(this.dir, n) }))
      .sort((a, b) => a.step - b.step);
  }

  latestDir(): string | undefined {
    const pointer = join(this.dir, 'latest');
    if (existsSync(pointer)) {
      const name = readFileSync(pointer, 'utf8').trim();
      const dir = join(this.dir, name);
      if (name && existsSync(join(dir, 'manifest.json'))) return dir;
    }
    return this.list().at(-1)?.dir;
  }

  private prune(keep: string): void {
    const all = this.list();
    const excess = all.length - Math.max(1, this.opts.keepLast);
    for (const c of all.slice(0, Math.max(0, excess))) if (c.dir !== keep) rmSync(c.dir, { recursive: true, force: true });
    // Leftovers of an interrupted save are garbage once a newer save succeeded.
    for (const n of readdirSync(this.dir)) {
      if (n.startsWith(TEMP_DIR_PREFIX) && !n.includes(`-${process.pid}-`)) rmSync(join(this.dir, n), { recursive: true, force: true });
    }
  }

  async load(dir?: string, opts: LoadOptions = {}): Promise<LoadedCheckpoint> {
    const d = dir ?? this.latestDir();
    if (!d) throw new CheckpointError(this.dir, 'no checkpoint found to load');
    if (!existsSync(d) || !statSync(d).isDirectory()) throw new CheckpointError(d, 'checkpoint folder does not exist');
    const manifestFile = join(d, 'manifest.json');
    let manifest: Manifest;
    try {
      manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    } catch (err) {
      throw new CheckpointError(manifestFile, `missing or unreadable manifest (${(err as Error).message.split('\n')[0]})`);
    }
    if (manifest.format !== CHECKPOINT_FORMAT) throw new CheckpointError(manifestFile, `checkpoint format ${manifest.format} is not supported (expected ${CHECKPOINT_FORMAT})`);
    const read = (name: string): Uint8Array => {
      const f = join(d, name);
      const want = manifest.files[name];
      if (!want) throw new CheckpointError(f, 'is not listed in the manifest');
      if (!existsSync(f)) throw new CheckpointError(f, 'is missing from the checkpoint');
      const bytes = readFileSync(f);
      if (bytes.length !== want.bytes) throw new CheckpointError(f, `is corrupt or truncated: ${bytes.length} bytes, the manifest says ${want.bytes}`);
      if (sha256(bytes) !== want.sha256) throw new CheckpointError(f, 'is corrupt: its SHA-256 does not match the manifest');
      return bytes;
    };
    const config = JSON.parse(Buffer.from(read('config.json')).toString('utf8')) as Record<string, unknown>;
    if (opts.expectConfig) {
      const diffs = diffConfig(config, opts.expectConfig as Record<string, unknown>, opts.ignoreKeys ?? []);
      if (diffs.length) throw new CheckpointError(join(d, 'config.json'), `config mismatch: ${diffs.join('; ')}`);
    }
    const state = JSON.parse(Buffer.from(read('state.json')).toString('utf8')) as Record<string, unknown>;
    const groups: Record<string, Record<string, tf.Tensor>> = {};
    const disposeAll = () => Object.values(groups).forEach((g) => tf.dispose(Object.values(g)));
    try {
      for (const name of Object.keys(manifest.files).filter((n) => n.endsWith('.safetensors'))) {
        const file = join(d, name);
        groups[name.slice(0, -'.safetensors'.length)] = safetensorsToTensors(decodeSafetensors(read(name), file), file);
      }
    } catch (err) {
      disposeAll();
      throw err;
    }
    return { dir: d, step: manifest.step, groups, state, config, dispose: disposeAll };
  }
}

const show = (v: unknown) => (v === undefined ? 'absent' : JSON.stringify(v));

/** Lists differing dotted keys: "model.depth is 6 in the checkpoint but 4 in this run". */
export function diffConfig(stored: Record<string, unknown>, current: Record<string, unknown>, ignore: string[]): string[] {
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    if (path && ignore.some((k) => path === k || path.startsWith(`${k}.`))) return;
    const isObj = (x: unknown) => x !== null && typeof x === 'object' && !Array.isArray(x);
    if (isObj(a) && isObj(b)) {
      const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
      for (const k of [...keys].sort()) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
    } else if (JSON.stringify(a) !== JSON.stringify(b)) {
      out.push(`${path} is ${show(a)} in the checkpoint but ${show(b)} in this run`);
    }
  };
  walk(stored, current, '');
  return out;
}
