/**
 * Data-parallel gradient workers. Each worker thread holds a full replica of
 * the pretraining task (its own tfjs-wasm instance: one core each). Per
 * update, the main thread publishes student and teacher weights in a
 * SharedArrayBuffer, every thread computes the gradients of its share of the
 * update's micro-batches, and the main thread sums them. Micro-batch i gets
 * the same data, masks and dropout wherever it runs (stepRng(seed, i)), so a
 * parallel run equals sequential gradient accumulation up to float rounding.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { ResolvedConfig } from '../config/resolve.js';
import { D2vError } from '../errors.js';

/** Control words (Int32) at the start of the control buffer. */
export const CTRL = { seq: 0, done: 1, microStart: 2, microCount: 3, error: 4 } as const;
const CTRL_INTS = 8;
/** Float area after the control words: loss sum, then metric sums. */
export const MAX_METRICS = 8;

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

export function layoutOf(vars: { name: string; size: number }[]): ParamLayout {
  const sizes = vars.map((v) => v.size);
  return { names: vars.map((v) => v.name), sizes, total: sizes.reduce((a, b) => a + b, 0) };
}

export interface WorkerInit {
  modality: string;
  config: ResolvedConfig;
  weights: SharedArrayBuffer;
  teacher: SharedArrayBuffer;
  grads: SharedArrayBuffer;
  ctrl: SharedArrayBuffer;
  metricNames: string[];
}

interface Replica {
  worker: Worker;
  ctrl: Int32Array;
  floats: Float32Array;
  grads: Float32Array;
  failed?: Error;
}

export class GradientWorkers {
  private readonly replicas: Replica[] = [];
  private readonly weights: Float32Array;
  private readonly teacher: Float32Array;

  constructor(
    modality: string,
    config: ResolvedConfig,
    readonly student: tf.Variable[],
    readonly teacherVars: tf.Variable[],
    readonly metricNames: string[],
    count: number,
  ) {
    const wl = layoutOf(student);
    const tl = layoutOf(teacherVars);
    const wsab = new SharedArrayBuffer(wl.total * 4);
    const tsab = new SharedArrayBuffer(tl.total * 4);
    this.weights = new Float32Array(wsab);
    this.teacher = new Float32Array(tsab);
    const src = fileURLToPath(new URL('./gradWorkerEntry.mjs', import.meta.url));
    for (let i = 0; i < count; i++) {
      const grads = new SharedArrayBuffer(wl.total * 4);
      const ctrl = new SharedArrayBuffer(CTRL_INTS * 4 + (1 + MAX_METRICS) * 4);
      const init: WorkerInit = { modality, config, weights: wsab, teacher: tsab, grads, ctrl, metricNames };
      const worker = new Worker(src, { workerData: init });
      const r: Replica = { worker, ctrl: new Int32Array(ctrl, 0, CTRL_INTS), floats: new Float32Array(ctrl, CTRL_INTS * 4), grads: new Float32Array(grads) };
      worker.on('error', (err) => (r.failed = err));
      worker.unref();
      this.replicas.push(r);
    }
  }

  get count(): number {
    return this.replicas.length;
  }

  private publish(): void {
    let o = 0;
    for (const v of this.student) {
      this.weights.set(valuesOf(v), o);
      o += v.size;
    }
    o = 0;
    for (const v of this.teacherVars) {
      this.teacher.set(valuesOf(v), o);
      o += v.size;
    }
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

  /** Starts worker w on micro-batches [start, start + count). Call publish-and-start once per update. */
  start(jobs: { start: number; count: number }[]): void {
    this.publish();
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

  /** Waits for worker w; returns its summed gradients (new tensors), loss sum and metric sums. */
  collect(w: number): { grads: tf.Tensor[]; loss: number; metrics: Record<string, number> } {
    const r = this.replicas[w]!;
    while (Atomics.load(r.ctrl, CTRL.done) === 0) {
      Atomics.wait(r.ctrl, CTRL.done, 0, 1000);
      if (r.failed) throw new D2vError('WORKER', `gradient worker ${w} failed: ${r.failed.message}`);
    }
    if (Atomics.load(r.ctrl, CTRL.error)) throw new D2vError('WORKER', `gradient worker ${w} reported an error (see its log above)`);
    let o = 0;
    const grads = this.student.map((v) => {
      const t = tf.tensor(r.grads.subarray(o, o + v.size), v.shape, 'float32');
      o += v.size;
      return t;
    });
    const metrics: Record<string, number> = {};
    this.metricNames.forEach((n, i) => (metrics[n] = r.floats[1 + i]!));
    return { grads, loss: r.floats[0]!, metrics };
  }

  async dispose(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.worker.terminate()));
  }
}
