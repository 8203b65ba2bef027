/**
 * A data-parallel replica (see parallel.ts): builds its task from the main thread's TaskFactory,
 * then, per update, loads the published weights and computes its micro-batches with microStep().
 */
import * as tf from '@tensorflow/tfjs-core';
import { workerData, parentPort, type MessagePort } from 'node:worker_threads';
import { initBackend } from '../backend/registry.js';
import { D2vError, PluginError } from '../errors.js';
import { suggestKey } from '../config/schema.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { microStep } from './microStep.js';
import { CTRL, layoutOf, sharedVariables, valuesOf, type ParamLayout, type ReplicaContext, type TaskFactory } from './parallel.js';
import type { TrainTask } from './task.js';

/** What the main thread hands a worker (workerData). */
export interface WorkerInit {
  /** This module's URL, for the entry (gradWorkerEntry.mjs). */
  module: string;
  factory: TaskFactory;
  config: ResolvedConfig;
  /** The main thread's trainable parameters (names and sizes): the replica's must be the same. */
  params: ParamLayout;
  /** Sizes of the main thread's synced variables. */
  syncedSizes: number[];
  paramValues: SharedArrayBuffer;
  syncedValues: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  ctrl: SharedArrayBuffer;
  /** Where the worker posts one WorkerReport per share, before it raises `done`. */
  reports: MessagePort;
}

/** Sums over the worker's micro-batches of an update, or why it failed (`code`: the D2vError code, for the exit code). */
export type WorkerReport = { loss: number; metrics: Record<string, number>; tensors: number } | { error: string; code?: string };

async function buildReplica(f: TaskFactory, config: ResolvedConfig): Promise<TrainTask<any>> {
  const mod: Record<string, unknown> = await import(f.module);
  const build = mod[f.export];
  if (typeof build !== 'function') {
    const hint = suggestKey(f.export, Object.keys(mod));
    throw new PluginError(`${f.module} exports no function '${f.export}' to build a worker's replica of the task${hint ? ` (did you mean '${hint}'?)` : ''}`);
  }
  const ctx: ReplicaContext = { config, args: f.args, log: () => {} };
  return await build(ctx);
}

/** Why the replica's variables differ from the main thread's, or undefined when they match. */
function layoutMismatch(want: ParamLayout, got: ParamLayout, wantSynced: number[], gotSynced: number[]): string | undefined {
  if (want.names.length !== got.names.length) return `${got.names.length} trainable parameters instead of ${want.names.length}`;
  const i = want.names.findIndex((n, j) => n !== got.names[j] || want.sizes[j] !== got.sizes[j]);
  if (i >= 0) return `trainable parameter ${i} is ${got.names[i]} (${got.sizes[i]} values), not ${want.names[i]} (${want.sizes[i]} values)`;
  if (wantSynced.join() !== gotSynced.join()) return `its synced variables have sizes [${gotSynced.join(', ')}], not [${wantSynced.join(', ')}]`;
  return undefined;
}

function load(vars: readonly tf.Variable[], from: Float32Array): void {
  let o = 0;
  tf.tidy(() => {
    for (const v of vars) {
      v.assign(tf.tensor(from.subarray(o, o + v.size), v.shape, 'float32'));
      o += v.size;
    }
  });
}

const init: WorkerInit = workerData;
const ctrl = new Int32Array(init.ctrl);
const grads = new Float32Array(init.grads);
const paramValues = new Float32Array(init.paramValues);
const syncedValues = new Float32Array(init.syncedValues);
const config = init.config;

await initBackend(config.backend);
const task = await buildReplica(init.factory, config);
const shared = sharedVariables(task);
const mismatch = layoutMismatch(init.params, layoutOf(shared.params), init.syncedSizes, shared.synced.map((v) => v.size));
if (mismatch) throw new D2vError('WORKER', `the replica built by ${init.factory.export} (${init.factory.module}) is not the main thread's task: ${mismatch}`);
const params = shared.params.map(([, v]) => v);
parentPort?.postMessage('ready');

let seen = 0;
for (;;) {
  Atomics.wait(ctrl, CTRL.seq, seen);
  seen = Atomics.load(ctrl, CTRL.seq);
  let report: WorkerReport;
  try {
    load(params, paramValues);
    load(shared.synced, syncedValues);
    const start = Atomics.load(ctrl, CTRL.microStart);
    const count = Atomics.load(ctrl, CTRL.microCount);
    grads.fill(0);
    let loss = 0;
    const metrics: Record<string, number> = {};
    for (let index = start; index < start + count; index++) {
      const r = microStep(task, params, config.seed, index);
      loss += r.loss;
      for (const [name, v] of Object.entries(r.metrics)) metrics[name] = (metrics[name] ?? 0) + v;
      let o = 0;
      for (const g of r.grads) {
        const d = valuesOf(g);
        for (let j = 0; j < d.length; j++) grads[o + j]! += d[j]!;
        o += g.size;
      }
      tf.dispose(r.grads);
    }
    report = { loss, metrics, tensors: tf.memory().numTensors };
  } catch (err) {
    if (process.env['D2V_DEBUG']) console.error(`d2v gradient worker: ${(err as Error).stack ?? err}`);
    report = { error: err instanceof Error ? err.message : String(err), code: err instanceof D2vError ? err.code : undefined };
  }
  init.reports.postMessage(report);
  Atomics.store(ctrl, CTRL.done, 1);
  Atomics.notify(ctrl, CTRL.done);
}
