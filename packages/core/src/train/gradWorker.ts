/** A data-parallel replica (see parallel.ts): computes gradients of assigned micro-batches. */
import * as tf from '@tensorflow/tfjs-core';
import { workerData, parentPort } from 'node:worker_threads';
import { initBackend } from '../backend/registry.js';
import { loadModality } from '../registry/registry.js';
import { createPretrainTask } from '../model/pretrainTask.js';
import { stepRng } from './stepRng.js';
import { CTRL, valuesOf } from './parallel.js';
import type { WorkerInit } from './parallel.js';

const init = workerData as WorkerInit;
const ctrl = new Int32Array(init.ctrl, 0, 8);
const floats = new Float32Array(init.ctrl, 32);
const grads = new Float32Array(init.grads);
const weights = new Float32Array(init.weights);
const teacherW = new Float32Array(init.teacher);

await initBackend(init.config.backend);
const modality = await loadModality(init.modality);
const config = init.config;
const task = createPretrainTask(modality, config, await modality.createData(config, 'train'));
const student = task.trainableParams().map(([, p]) => p.variable);
const teacher = [...task.ema.teacher.variables().values()];
parentPort?.postMessage('ready');

function load(vars: tf.Variable[], from: Float32Array): void {
  let o = 0;
  tf.tidy(() => {
    for (const v of vars) {
      v.assign(tf.tensor(from.subarray(o, o + v.size), v.shape, 'float32'));
      o += v.size;
    }
  });
}

let seen = 0;
for (;;) {
  Atomics.wait(ctrl, CTRL.seq, seen);
  seen = Atomics.load(ctrl, CTRL.seq);
  try {
    load(student, weights);
    load(teacher, teacherW);
    const start = Atomics.load(ctrl, CTRL.microStart);
    const count = Atomics.load(ctrl, CTRL.microCount);
    grads.fill(0);
    floats.fill(0);
    for (let index = start; index < start + count; index++) {
      const rng = stepRng(config.seed, index);
      const prepared = task.prepare(index, rng);
      let kept: Record<string, tf.Scalar> = {};
      const { value, grads: named } = tf.variableGrads(() => {
        const r = task.loss(index, rng, prepared);
        kept = r.metrics ?? {};
        Object.values(kept).forEach((m) => tf.keep(m));
        return r.loss;
      }, student);
      floats[0]! += value.dataSync()[0]!;
      init.metricNames.forEach((n, i) => (floats[1 + i]! += kept[n]?.dataSync()[0] ?? 0));
      let o = 0;
      for (const v of student) {
        const g = named[v.name];
        if (g) {
          const d = valuesOf(g);
          for (let j = 0; j < d.length; j++) grads[o + j]! += d[j]!;
        }
        o += v.size;
      }
      tf.dispose([value, ...Object.values(named), ...Object.values(kept)]);
      task.release(prepared);
    }
    Atomics.store(ctrl, CTRL.error, 0);
  } catch (err) {
    console.error(`d2v gradient worker: ${(err as Error).stack ?? err}`);
    Atomics.store(ctrl, CTRL.error, 1);
  }
  Atomics.store(ctrl, CTRL.done, 1);
  Atomics.notify(ctrl, CTRL.done);
}
