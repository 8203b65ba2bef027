/**
 * TensorFlow.js backend switch, in the spirit of onnxruntime's registerBackend:
 * each backend is a lazily imported loader with a priority; `auto` tries the
 * highest priority first, falls back, and says why a faster one did not start. A name
 * is registered once (a second registration is refused unless asked to replace), and the
 * registered names are the `backend` option's choices. The native tfjs-node packages are
 * optional peers: they are imported only when asked for or when `auto` finds them.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients and no chained tensor methods (x.reshape()): this registers
// them as the @tensorflow/tfjs union package does, without installing it (scripts/bundle-tfjs-registrations.mjs).
import './tfjsGradientsAndChainedOps.mjs';
import { BackendError, ConfigError, PluginError } from '../errors.js';
import { suggestKey } from '../config/schema.js';
import { Registrations, callerOf, type RegisterOptions } from '../registry/registrations.js';
import { registerWasmSegmentSum } from './segmentSum.js';
import { patchWasmKernels } from './wasmPatches.js';
import { registerConvFilterGradient } from './convGrad.js';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

interface BackendEntry {
  /** Imports the package that registers the tfjs backend; throws if not installed. */
  load: () => Promise<void>;
  /** The name tfjs registers the backend under. */
  tfName: string;
  /** Higher is preferred by `auto`. */
  priority: number;
  /** Runs once after the backend is active (kernel patches etc.). */
  setup?: () => void | Promise<void>;
}

const entries = new Registrations<BackendEntry>('backend');

const choices: string[] = ['auto'];
/**
 * What `--backend` accepts: `auto` and every registered backend, highest priority first. The
 * `backend` option declares this very array as its choices (config/coreSchema.ts), and
 * registerBackend keeps it current, so a backend registered by a plugin can be chosen and
 * `--help` lists it.
 */
export const BACKEND_CHOICES: readonly string[] = choices;

/** Registers a backend; a second one under a taken name is refused unless `opts.replace`. */
export function registerBackend(name: string, entry: BackendEntry, opts: RegisterOptions = {}): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name) || name === 'auto') {
    throw new PluginError(`backend name '${name}' must be lower-case letters, digits and dashes, and not 'auto' (which picks among the others)`);
  }
  entries.add(name, entry, opts, callerOf(registerBackend));
  choices.splice(1, Infinity, ...registeredBackends());
}

export function registeredBackends(): string[] {
  return [...entries.entries()].sort((a, b) => b[1].priority - a[1].priority).map(([n]) => n);
}

async function importOptional(pkg: string): Promise<void> {
  try {
    await import(pkg);
  } catch (err) {
    throw new BackendError(
      `backend package ${pkg} is not installed or failed to load (${(err as Error).message.split('\n')[0]}). ` +
        `Install it with \`npm install ${pkg}\` (needs network access to download libtensorflow), or use --backend wasm.`,
      { cause: err },
    );
  }
}

registerBackend('tensorflow-gpu', {
  load: () => importOptional('@tensorflow/tfjs-node-gpu'),
  tfName: 'tensorflow',
  priority: 40,
});
registerBackend('tensorflow', {
  load: () => importOptional('@tensorflow/tfjs-node'),
  tfName: 'tensorflow',
  priority: 30,
});
registerBackend('wasm', {
  load: async () => {
    await import('@tensorflow/tfjs-backend-wasm');
  },
  tfName: 'wasm',
  priority: 20,
  setup: () => {
    registerWasmSegmentSum();
    patchWasmKernels();
  },
});
registerBackend('cpu', {
  load: async () => {
    await import('@tensorflow/tfjs-backend-cpu');
  },
  tfName: 'cpu',
  priority: 10,
});

let active: string | undefined;

/** Name of the d2v backend in use (after initBackend), e.g. 'wasm'. */
export function activeBackend(): string | undefined {
  return active;
}

export interface InitBackendOptions {
  /** Log the choice (default: true for auto). */
  log?: (msg: string) => void;
}

/**
 * Activates a backend: an explicit name, `auto`, or (when undefined) the
 * D2V_BACKEND environment variable, defaulting to `wasm`.
 */
export async function initBackend(requested?: string, opts: InitBackendOptions = {}): Promise<string> {
  const want = (requested ?? process.env['D2V_BACKEND'] ?? 'wasm').trim();
  if (!BACKEND_CHOICES.includes(want)) {
    const from = requested === undefined && process.env['D2V_BACKEND'] !== undefined ? ' (from D2V_BACKEND)' : '';
    const hint = suggestKey(want, BACKEND_CHOICES);
    throw new ConfigError(`unknown backend '${want}'${from}: choose one of ${BACKEND_CHOICES.join(', ')}${hint ? ` (did you mean '${hint}'?)` : ''}`, 'backend');
  }
  const candidates = want === 'auto' ? registeredBackends() : [want];
  const failures: string[] = [];
  for (const name of candidates) {
    const entry = entries.get(name)!;
    try {
      await entry.load();
      const ok = await tf.setBackend(entry.tfName);
      if (!ok) throw new BackendError(`tfjs could not initialise backend '${entry.tfName}'`);
      await tf.ready();
      await entry.setup?.();
      registerConvFilterGradient();
      active = name;
      if (want === 'auto') {
        // Why a faster backend was passed over (e.g. the GPU's CUDA libraries are missing) matters as much as the choice.
        const passed = failures.length ? `; not used: ${failures.join('; ')}` : '';
        (opts.log ?? console.error)(`d2v: backend auto -> ${name}${passed}`);
      }
      return name;
    } catch (err) {
      if (want !== 'auto') {
        throw err instanceof BackendError ? err : new BackendError(`backend '${name}' failed to start: ${(err as Error).message}`, { cause: err });
      }
      // The underlying reason (a missing package or CUDA library), without the install advice around it.
      const reason = err instanceof BackendError && err.cause instanceof Error ? err.cause : (err as Error);
      failures.push(`${name}: ${reason.message.split('\n')[0]}`);
    }
  }
  throw new BackendError(`no backend could start: ${failures.join('; ')}`);
}
