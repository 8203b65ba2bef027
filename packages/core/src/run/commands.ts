/**
 * The run layer: the d2v commands as functions (the CLI, Nx targets and tests all call these).
 * Here alone a (modality, config) becomes a resolved run, its task (buildPretrainTask,
 * buildFinetuneTask), the worker threads' replicas of that task, and a trainer (trainTask.ts);
 * the bench and the step profile (benchStep.ts, profileStep.ts) build their runs here too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initBackend, activeBackend, registeredBackends } from '../backend/registry.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { loadModality, discoverModalities, registeredModalities } from '../registry/registry.js';
import type { AnyModality, DownstreamContext, DownstreamTask } from '../registry/modality.js';
import { buildStudent, type Data2VecParts } from '../model/base.js';
import { weightsUnder } from '../nn/module.js';
import { createPretrainTask, type PretrainTask } from '../model/pretrainTask.js';
import type { TrainResult } from '../train/trainer.js';
import { CheckpointManager } from '../io/checkpoint.js';
import type { ReplicaContext, TaskFactory } from '../train/parallel.js';
import { trainTask } from './trainTask.js';
import { planRun } from '../train/runFolder.js';
import { ConfigError, CheckpointError } from '../errors.js';
import { isHfCheckpoint } from '../io/hf.js';
import { loadHfWeights, resolveWithHfInit } from './hfInit.js';

export interface RunOptions {
  modality: string | AnyModality;
  preset?: string;
  configFile?: string;
  overrides?: Map<string, unknown> | Record<string, unknown>;
  log?: (msg: string) => void;
  stopAfter?: number;
  plots?: boolean;
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
}

export function toMap(o: RunOptions['overrides']): Map<string, unknown> {
  if (!o) return new Map();
  return o instanceof Map ? o : new Map(Object.entries(o));
}

export async function prepareRun(o: RunOptions): Promise<{ modality: AnyModality; config: ResolvedConfig }> {
  const modality = typeof o.modality === 'string' ? await loadModality(o.modality) : o.modality;
  const config = resolveWithHfInit(modality, {
    modality: modality.name,
    modalitySchema: modality.schema,
    presets: modality.presets,
    preset: o.preset ?? modality.defaultPreset,
    file: o.configFile,
    overrides: toMap(o.overrides),
    validate: modality.validateConfig?.bind(modality),
  }, o.log ?? ((m: string) => console.error(m)));
  await initBackend(config.backend, { log: o.log });
  return { modality, config };
}

/** `--init` of a config (finetune.init): empty when training from scratch. */
const initOf = (config: ResolvedConfig) => config.finetune.init;

export interface PretrainOutcome extends TrainResult {
  config: ResolvedConfig;
}

export async function pretrain(o: RunOptions): Promise<PretrainOutcome> {
  const log = o.log ?? ((m: string) => console.error(m));
  const { modality, config } = await prepareRun(o);
  // The run folder is checked before data loading (minutes, for big corpora); the Trainer acts on it.
  planRun(config);
  const replica = replicaOf('pretrainReplica', o.modality, config);
  log(`d2v: pretrain ${modality.name} (preset ${config.preset}) on backend ${activeBackend()} -> ${resolve(config.out)}`);
  const task = await buildPretrainTask(modality, config, log);
  try {
    const result = await trainTask(task, { config, log, stopAfter: o.stopAfter, plots: o.plots, label: `pretrain ${modality.name}`, progressStream: o.progressStream, replica });
    return { ...result, config };
  } finally {
    task.dispose();
  }
}

/**
 * A run's data2vec pretraining task (objective.version 1 or 2) on the modality's training data. With
 * `finetune.init` pretraining continues from that checkpoint: the student starts from it, the teacher
 * from the student.
 */
export async function buildPretrainTask(modality: AnyModality, config: ResolvedConfig, log: (m: string) => void): Promise<PretrainTask> {
  const task = createPretrainTask(modality, config, await modality.createData(config, 'train'));
  const init = initOf(config);
  if (init) {
    try {
      tf.dispose(Object.values(await loadInit(init, modality, config, task, log)));
    } catch (err) {
      task.dispose();
      throw err;
    }
    task.ema.resetToStudent();
  }
  return task;
}

/** A worker thread's replica of a pretraining run's task (a TaskFactory export; args: the modality's name or path). */
export async function pretrainReplica(ctx: ReplicaContext<{ modality: string }>): Promise<PretrainTask> {
  return buildPretrainTask(await loadModality(ctx.args.modality), ctx.config, ctx.log);
}

/**
 * How worker threads rebuild a run's task (`train.workers` > 0): they load the modality by the same
 * name or path, so one given as an object in code cannot be used there.
 */
function replicaOf(build: 'pretrainReplica' | 'finetuneReplica', modality: string | AnyModality, config: ResolvedConfig): TaskFactory | undefined {
  if (config.train.workers === 0) return undefined;
  if (typeof modality !== 'string') throw new ConfigError('train.workers needs the modality as a name or path (workers load it themselves)', 'train.workers');
  return { module: import.meta.url, export: build, args: { modality: modality.startsWith('.') ? resolve(modality) : modality } };
}

/** A checkpoint folder, or a run folder whose latest checkpoint is used. */
export function resolveCheckpointDir(path: string): string {
  const p = resolve(path);
  if (existsSync(join(p, 'manifest.json'))) return p;
  if (existsSync(p)) {
    const dir = new CheckpointManager(p, { keepLast: 1 }).latestDir();
    if (dir) return dir;
  }
  throw new CheckpointError(p, 'is neither a checkpoint folder nor a run folder with checkpoints');
}

/** Loads `encoder.*`, `transformer.*` (and returns the whole student group) from a checkpoint. */
export async function loadStudentWeights(
  dir: string,
  parts: { encoder: { loadState: Function }; transformer: { loadState: Function } },
  log: (m: string) => void,
): Promise<Record<string, tf.Tensor>> {
  const ckpt = await new CheckpointManager(resolve(dir, '..', '..'), { keepLast: 1 }).load(dir);
  const student = ckpt.groups['student'];
  if (!student) {
    ckpt.dispose();
    throw new CheckpointError(dir, 'has no student weights');
  }
  parts.encoder.loadState(weightsUnder(student, 'encoder.') ?? {}, `${dir} (encoder)`);
  parts.transformer.loadState(weightsUnder(student, 'transformer.') ?? {}, `${dir} (transformer)`);
  log(`d2v: loaded pretrained encoder + Transformer from ${dir} (step ${ckpt.step})`);
  // Only the student group is kept for the caller (e.g. a fine-tuned head); the rest is freed now.
  for (const [g, tensors] of Object.entries(ckpt.groups)) if (g !== 'student') tf.dispose(Object.values(tensors));
  return student;
}

/**
 * Loads `--init` into encoder + Transformer: a d2v run or checkpoint folder (its student), or a
 * Hugging Face folder (config resolved by prepareRun). Returns the loaded student weights (a
 * d2v checkpoint's may hold a fine-tuned head); the caller disposes them.
 */
export async function loadInit(init: string, modality: AnyModality, config: ResolvedConfig, parts: Data2VecParts, log: (m: string) => void): Promise<Record<string, tf.Tensor>> {
  const dir = resolve(init);
  if (isHfCheckpoint(dir)) return loadHfWeights(dir, modality, config, parts, log);
  return loadStudentWeights(resolveCheckpointDir(init), parts, log);
}

export interface FinetuneOutcome extends TrainResult {
  config: ResolvedConfig;
  metrics: Record<string, number>;
}

/** The config a fine-tuning run trains with: finetune.* replaces the pretraining optimiser/train settings. */
export function finetuneConfig<C extends ResolvedConfig>(config: C): C {
  const ft = config.finetune;
  return {
    ...config,
    optim: { ...config.optim, lr: ft.lr, warmupSteps: ft.warmupSteps, schedule: ft.schedule, weightDecay: ft.weightDecay, clipNorm: ft.clipNorm },
    train: { ...config.train, steps: ft.steps, batchSize: ft.batchSize },
  };
}

export async function finetune(o: RunOptions): Promise<FinetuneOutcome> {
  const log = o.log ?? ((m: string) => console.error(m));
  const prepared = await prepareRun(o);
  const { modality } = prepared;
  const config = finetuneConfig(prepared.config);
  checkFinetunable(modality);
  planRun(config);
  const replica = replicaOf('finetuneReplica', o.modality, config);
  const { task, dispose } = await buildFinetuneTask(modality, config, log);
  try {
    log(`d2v: finetune ${modality.name} on backend ${activeBackend()} -> ${resolve(config.out)}`);
    const result = await trainTask(task, { config, log, stopAfter: o.stopAfter, plots: o.plots, label: `finetune ${modality.name}`, progressStream: o.progressStream, optimSection: 'finetune', replica });
    const metrics = await task.evaluate();
    mkdirSync(config.out, { recursive: true });
    writeFileSync(join(config.out, 'eval.json'), JSON.stringify({ step: result.step, ...metrics }, null, 2) + '\n');
    log(`d2v: test metrics ${JSON.stringify(metrics)} (written to ${join(config.out, 'eval.json')})`);
    return { ...result, config, metrics };
  } finally {
    dispose();
  }
}

/**
 * The modality's fine-tuning task for a fine-tuning config (finetuneConfig) on a new encoder +
 * Transformer, loaded from `finetune.init` when given; `dispose` frees the task and them.
 */
export async function buildFinetuneTask(modality: AnyModality, config: ResolvedConfig, log: (m: string) => void): Promise<{ task: DownstreamTask; dispose(): void }> {
  checkFinetunable(modality);
  const parts = buildStudent(modality, config);
  const disposeParts = () => {
    parts.encoder.dispose();
    parts.transformer.dispose();
  };
  try {
    const init = initOf(config);
    let studentWeights: Record<string, tf.Tensor> | undefined;
    if (init) studentWeights = await loadInit(init, modality, config, parts, log);
    else log('d2v: finetune from scratch (no finetune.init given)');
    const ctx: DownstreamContext = { config, encoder: parts.encoder, transformer: parts.transformer, log, weights: studentWeights };
    const task = await modality.createFinetuneTask(ctx).finally(() => {
      if (studentWeights) tf.dispose(Object.values(studentWeights));
    });
    return {
      task,
      dispose: () => {
        task.dispose();
        disposeParts();
      },
    };
  } catch (err) {
    disposeParts();
    throw err;
  }
}

function checkFinetunable(modality: AnyModality): asserts modality is AnyModality & Required<Pick<AnyModality, 'createFinetuneTask'>> {
  if (!modality.createFinetuneTask) throw new ConfigError(`modality ${modality.name} has no fine-tuning task`);
}

/** A worker thread's replica of a fine-tuning run's task (a TaskFactory export; args: the modality's name or path). */
export async function finetuneReplica(ctx: ReplicaContext<{ modality: string }>): Promise<DownstreamTask> {
  return (await buildFinetuneTask(await loadModality(ctx.args.modality), ctx.config, ctx.log)).task;
}

export async function evaluate(o: RunOptions & { task?: string }): Promise<Record<string, number>> {
  const log = o.log ?? ((m: string) => console.error(m));
  const { modality, config } = await prepareRun(o);
  const evals = modality.evaluations ?? {};
  const name = o.task ?? Object.keys(evals)[0];
  if (!name || !evals[name]) {
    throw new ConfigError(`modality ${modality.name} has no evaluation '${name ?? ''}'; available: ${Object.keys(evals).join(', ') || 'none'}`, 'task');
  }
  const parts = buildStudent(modality, config);
  try {
    const init = initOf(config);
    const weights = init ? await loadInit(init, modality, config, parts, log) : undefined;
    if (!init) log('d2v: evaluating a randomly initialised encoder (no --init given)');
    const metrics = await evals[name]!({ config, encoder: parts.encoder, transformer: parts.transformer, log, weights }).finally(() => {
      if (weights) tf.dispose(Object.values(weights));
    });
    mkdirSync(config.out, { recursive: true });
    writeFileSync(join(config.out, `eval-${name}.json`), JSON.stringify({ task: name, init: init || null, ...metrics }, null, 2) + '\n');
    return metrics;
  } finally {
    parts.encoder.dispose();
    parts.transformer.dispose();
  }
}

export async function info(modalityName?: string, backendName?: string): Promise<string> {
  const lines: string[] = [];
  const backend = await initBackend(backendName);
  lines.push(`backend: ${backend} (tfjs ${tf.version_core}); set D2V_BACKEND or --backend to change`);
  lines.push(`registered backends: ${registeredBackends().join(', ')} (--backend auto tries them in this order)`);
  lines.push(`installed modality packages: ${discoverModalities().join(', ') || 'none found under node_modules/@d2v'}`);
  if (modalityName) {
    const m = await loadModality(modalityName);
    lines.push(`modality ${m.name}: ${m.description}`);
    lines.push(`  presets: ${Object.keys(m.presets).join(', ')} (default ${m.defaultPreset})`);
    lines.push(`  evaluations: ${Object.keys(m.evaluations ?? {}).join(', ') || 'none'}; finetune: ${m.createFinetuneTask ? 'yes' : 'no'}`);
  }
  lines.push(`registered: ${registeredModalities().join(', ') || 'none'}`);
  return lines.join('\n');
}
