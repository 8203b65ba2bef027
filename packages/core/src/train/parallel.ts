/**
 * Data-parallel gradient workers. Each worker thread holds a full replica of the task (its own
 * tfjs-wasm instance: one core each), which it builds itself from a TaskFactory (a module, one of
 * its exported functions and JSON arguments), so any TrainTask can use them. Per update, the main
 * thread publishes the task's trainable parameters and the variables it declares synchronised
 * (`syncedVariables()`, e.g. the EMA teacher) in SharedArrayBuffers, every thread computes its
 * share of the update's micro-batches with microStep(), and the main thread sums the gradients,
 * the losses and every metric the task's loss() returned, by name. Micro-batch i gets the same
 * data, masks and dropout wherever it runs (stepRng(seed, i)), so a parallel run equals
 * sequential gradient accumulation up to float rounding.
 */
import * as tf from '@tensorflow/tfjs-core';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { ResolvedConfig } from '../config/resolve.js';
import { D2vError } from '../errors.js';
import type { TrainTask } from './task.js';
import type { WorkerInit, WorkerReport } from './gradWorker.js';

/** The worker module; the entry (plain JavaScript) loads it, from the TypeScript sources in a repo checkout. */
const GRAD_WORKER = new URL('./gradWorker.js', import.meta.url);
const ENTRY = new URL('./gradWorkerEntry.mjs', import.meta.url);

/** Control words (Int32) of a worker's control buffer. */
export const CTRL = { seq: 0, done: 1, microStart: 2, microCount: 3 } as const;
const CTRL_INTS = 4;

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * How a worker thread builds its replica of a task: it imports `module` (an import specifier, or
 * a file URL such as the defining module's own `import.meta.url`) and calls its export `export`
 * with a ReplicaContext holding `args` and the run's config. The replica must have the same
 * trainable parameters (names and sizes) and synced variables as the main thread's task.
 */
export interface TaskFactory {
  module: string;
  export: string;
  args?: Json;
}

/** What a TaskFactory's function receives. */
export interface ReplicaContext<A = Json | undefined> {
  config: ResolvedConfig;
  args: A;
  log: (msg: string) => void;
}

export interface ParamLayout {
  names: string[];
  sizes: number[];
  total: number;
}

/**
 * The values of a tensor without allocating: a view of the wasm heap when the
 * backend offers one (dataSync would allocate a fresh copy per call).
 */
export function valuesOf(t: tf.Tensor): Float32Array {
  const be = tf.backend() as unknown as { typedArrayFromHeap?: (t: tf.TensorInfo) => Float32Array };
  return be.typedArrayFromHeap ? be.typedArrayFromHeap(t as unknown as tf.TensorInfo) : (t.dataSync() as Float32Array);
}

/** Names and sizes of a task's trainable parameters, in order (synced variables are matched by size). */
export function layoutOf(named: readonly (readonly [string, tf.Variable])[]): ParamLayout {
  const sizes = named.map(([, v]) => v.size);
  return { names: named.map(([n]) => n), sizes, total: sizes.reduce((a, b) => a + b, 0) };
}

/** The task's trainable parameters and synced variables, in the order they travel. */
export function sharedVariables(task: TrainTask<any>): { params: [string, tf.Variable][]; synced: tf.Variable[] } {
  return { params: task.trainableParams().map(([n, p]) => [n, p.variable]), synced: task.syncedVariables?.() ?? [] };
}

/** Copies variables' values into `into`, one after the other. */
function publishTo(vars: readonly tf.Variable[], into: Float32Array): void {
  let o = 0;
  for (const v of vars) {
    into.set(valuesOf(v), o);
    o += v.size;
  }
}

interface Replica {
  worker: Worker;
  ctrl: Int32Array;
  grads: Float32Array;
  reports: MessagePort;
  failed?: Error;
}

/** What a worker computed for its share of an update: sums over its micro-batches. */
export interface WorkerShare {
  /** Summed gradients, aligned with the task's trainable parameters (new tensors: the caller disposes them). */
  grads: tf.Tensor[];
  loss: number;
  /** Sum of each metric over the worker's micro-batches, by name. */
  metrics: Record<string, number>;
  /** Tensors alive in the worker after the share (flat from update to update). */
  workerTensors: number;
}

export class GradientWorkers {
  private readonly replicas: Replica[] = [];
  private readonly params: tf.Variable[];
  private readonly synced: tf.Variable[];
  private readonly paramValues: Float32Array;
  private readonly syncedValues: Float32Array;

  /** Starts `count` worker threads that each build a replica of `task` with `factory`. */
  constructor(factory: TaskFactory, config: ResolvedConfig, task: TrainTask<any>, count: number) {
    const shared = sharedVariables(task);
    this.params = shared.params.map(([, v]) => v);
    this.synced = shared.synced;
    const params = layoutOf(shared.params);
    const syncedSizes = this.synced.map((v) => v.size);
    const paramSab = new SharedArrayBuffer(params.total * 4);
    const syncedSab = new SharedArrayBuffer(syncedSizes.reduce((a, b) => a + b, 0) * 4);
    this.paramValues = new Float32Array(paramSab);
    this.syncedValues = new Float32Array(syncedSab);
    for (let i = 0; i < count; i++) {
      const grads = new SharedArrayBuffer(params.total * 4);
      const ctrl = new SharedArrayBuffer(CTRL_INTS * 4);
      const channel = new MessageChannel();
      const init: WorkerInit = { module: GRAD_WORKER.href, factory, config, params, syncedSizes, paramValues: paramSab, syncedValues: syncedSab, grads, ctrl, reports: channel.port2 };
      const worker = new Worker(fileURLToPath(ENTRY), { workerData: init, transferList: [channel.port2] });
      const r: Replica = { worker, ctrl: new Int32Array(ctrl), grads: new Float32Array(grads), reports: channel.port1 };
      worker.on('error', (err) => (r.failed = err));
      worker.unref();
      this.replicas.push(r);
    }
  }

  get count(): number {
    return this.replicas.length;
  }

  /** Resolves once every worker has built its replica (init errors surface here, not as a hang). */
  async ready(): Promise<void> {
    await Promise.all(
      this.replicas.map(
        (r, w) =>
          new Promise<void>((res, rej) => {
            const fail = (e: Error) => rej(new D2vError('WORKER', `gradient worker ${w} failed to start: ${e.message}`));
            if (r.failed) return fail(r.failed);
            r.worker.once('message', (m) => (m === 'ready' ? res() : fail(new Error(String(m)))));
            r.worker.once('error', fail);
            r.worker.once('exit', (code) => fail(new Error(`exited with code ${code}`)));
          }),
      ),
    );
  }

  /** Publishes the weights and starts worker w on micro-batches [start, start + count). Once per update. */
  start(jobs: { start: number; count: number }[]): void {
    publishTo(this.params, this.paramValues);
    publishTo(this.synced, this.syncedValues);
    jobs.forEach((job, w) => {
      const r = this.replicas[w]!;
      if (r.failed) throw new D2vError('WORKER', `gradient worker ${w} failed: ${r.failed.message}`);
      Atomics.store(r.ctrl, CTRL.microStart, job.start);
      Atomics.store(r.ctrl, CTRL.microCount, job.count);
      Atomics.store(r.ctrl, CTRL.done, 0);
      Atomics.add(r.ctrl, CTRL.seq, 1);
      Atomics.notify(r.ctrl, CTRL.seq);
    });
  }

  /** Waits for worker w and returns its share of the update. */
  collect(w: number): WorkerShare {
    const r = this.replicas[w]!;
    while (Atomics.load(r.ctrl, CTRL.done) === 0) {
      Atomics.wait(r.ctrl, CTRL.done, 0, 1000);
      if (r.failed) throw new D2vError('WORKER', `gradient worker ${w} failed: ${r.failed.message}`);
    }
    // The worker posts its report before it raises `done`, so the report is already queued.
    const report: WorkerReport | undefined = receiveMessageOnPort(r.reports)?.message;
    if (!report) throw new D2vError('WORKER', `gradient worker ${w} finished without a report`);
    if ('error' in report) throw new D2vError(report.code ?? 'WORKER', `gradient worker ${w}: ${report.error}`);
    let o = 0;
    const grads = this.params.map((v) => {
      const t = tf.tensor(r.grads.subarray(o, o + v.size), v.shape, 'float32');
      o += v.size;
      return t;
    });
    return { grads, loss: report.loss, metrics: report.metrics, workerTensors: report.tensors };
  }

  async dispose(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.worker.terminate()));
    for (const r of this.replicas) r.reports.close();
  }
}
