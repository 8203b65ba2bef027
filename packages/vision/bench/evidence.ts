/**
 * Evidence for @d2v/vision (a benchmark, not a test): pretrain one or more presets ("arms", e.g.
 * data2vec 1.0 `tiny` vs 2.0 `tiny-v2`) for the same time budget each on Fashion-MNIST, and at
 * each mark (minutes of pretraining) compare, from the checkpoint closest to the mark,
 *   - linear probe: pretrained encoder vs randomly initialised encoder vs raw pixels;
 *   - fine-tuning with 1000 labels (100 per class): from the pretrained encoder vs from scratch.
 * The baselines (random init, raw pixels, scratch) run once, not per arm.
 * Writes results.json, accuracy.png (final mark), accuracy-vs-minutes.png (probe),
 * finetune-accuracy-vs-minutes.png and each arm's loss curve (<out>/<arm>/pretrain/loss.png) into --out.
 *   npx tsx packages/vision/bench/evidence.ts [--minutes 15] [--arms tiny,tiny-v2] [--marks 5,10,15]
 *     [--skip-finetune] [--finetune-marks 15] [--reuse] [--data DIR] [--out runs/vision-evidence]
 * --minutes is the budget per arm; --marks default to just --minutes; --reuse skips pretraining an
 * arm whose <out>/<arm>/pretrain/train-summary.json exists. "Minutes" of pretraining are the sum of
 * the update times logged in metrics.jsonl (checkpoint writes are not counted).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, join, resolve } from 'node:path';
import {
  initBackend,
  pretrain,
  finetune,
  evaluate,
  barChartPng,
  lineChartPng,
  activeBackend,
  readMetrics,
  CheckpointManager,
  ConfigError,
  METRICS_FILE,
  type Bar,
  type LineSeries,
  resolveStoredConfig,
} from '@d2v/core';
import { calibrateUpdateSeconds, scriptArgs } from '@d2v/core/bench';
import { modality, inverseMaskedCount, debianFashionMnistDir, bundledFashionMnistDir, type VisionConfig } from '../src/index.js';
import { maskedCount } from '../src/masking/blockMask.js';

const args = scriptArgs({
  usage: 'npx tsx packages/vision/bench/evidence.ts: pretrain presets ("arms") for a time budget each, then probe and fine-tune them against random init, raw pixels and scratch (the comment at the top of the file explains every option)',
  values: { minutes: '15', data: undefined, out: 'runs/vision-evidence', 'probe-train': '10000', 'probe-test': '5000', 'finetune-steps': '100', arms: 'tiny', marks: undefined, 'finetune-marks': undefined, backend: 'wasm', workers: '1' },
  switches: ['skip-finetune', 'reuse'],
});
const list = (s: string) => s.split(',').map((x) => x.trim()).filter((x) => x !== '');
const minutes = args.number('minutes');
const data = args.values.data ?? (existsSync(debianFashionMnistDir()) ? debianFashionMnistDir() : bundledFashionMnistDir());
const out = resolve(args.values.out);
const probeTrain = args.number('probe-train');
const probeTest = args.number('probe-test');
const ftSteps = args.number('finetune-steps');
const arms = [...new Set(list(args.values.arms))];
const marks = [...new Set(list(args.values.marks ?? String(minutes)).map(Number))].sort((a, b) => a - b);
const skipFinetune = args.switches['skip-finetune'];
// Fine-tuning costs several times a probe (one thread, 100 updates + 10k test images): only at these marks.
const finetuneMarks = new Set(list(args.values['finetune-marks'] ?? marks.join(',')).map(Number));
const reuse = args.switches.reuse;
if (!(minutes > 0)) throw new ConfigError(`--minutes must be > 0 (got ${minutes})`, 'minutes');
for (const a of arms) {
  if (!(a in modality.presets)) throw new ConfigError(`--arms: vision has no preset '${a}'; presets: ${Object.keys(modality.presets).join(', ')}`, 'arms');
}
if (arms.length === 0) throw new ConfigError('--arms needs at least one preset', 'arms');
if (marks.length === 0 || marks.some((m) => !(m > 0 && m <= minutes + 1e-9))) {
  throw new ConfigError(`--marks must be minutes in (0, --minutes = ${minutes}] (got ${args.values.marks ?? ''})`, 'marks');
}
mkdirSync(out, { recursive: true });
const log = (m: string) => console.error(m);

/** The resolved config of a run folder (a run written before an option was renamed reads under the new name). */
const runConfig = (dir: string): VisionConfig => resolveStoredConfig(modality, JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), join(dir, 'config.json'), log);
await initBackend(args.values.backend);

// Pretraining uses both cores: 2 micro-batches of 32 per update, one on a worker thread.
const workers = args.number('workers');
const base = { 'data.path': data };
const par = workers > 0 ? { 'train.workers': workers, 'optim.accumulate': workers + 1, 'train.batchSize': Math.round(64 / (workers + 1)) } : {};

/**
 * Checkpoint spacing: the largest interval (at most the first mark's step) whose multiples land at,
 * or at most `tol` updates after, every mark; the last update is always saved. Evenly spaced marks
 * give the first mark's step; uneven ones a gcd-like spacing.
 */
function checkpointSpacing(targets: number[], steps: number, tol: number): number {
  for (let e = Math.min(steps, targets[0]!); e > 1; e--) {
    if (targets.every((t) => t >= steps || Math.min(steps, Math.ceil(t / e) * e) - t <= tol)) return e;
  }
  return 1;
}

/** Minutes of pretraining after each logged step: cumulative `sec` (records logged every k steps count k times). */
function minutesByStep(runDir: string): Map<number, number> {
  const at = new Map<number, number>();
  let sum = 0;
  let prev = 0;
  for (const r of readMetrics(join(runDir, METRICS_FILE))) {
    // A step at or below the previous one starts a new run in the same folder: keep only the latest run.
    if (r.step <= prev) {
      at.clear();
      sum = 0;
      prev = 0;
    }
    if (typeof r['sec'] === 'number') sum += r['sec'] * (r.step - prev);
    prev = r.step;
    at.set(r.step, sum / 60);
  }
  return at;
}

/** Masked patches per image of a resolved config: BEiT blocks (version 1) or inverse blocks (version 2). */
function maskedPerImage(c: VisionConfig): number {
  const v = c.vision;
  const g = v.imageSize / v.patchSize;
  const o = { gridH: g, gridW: g, maskRatio: c.masking.ratio };
  return (c.objective.version ?? 1) === 2 ? inverseMaskedCount(o) : maskedCount(o);
}

/** Every `every`-th progress line (and the final one) of a non-TTY stream: train.logEvery 1 would print one per update. */
function thinnedProgress(every: number) {
  const err = process.stderr;
  let n = 0;
  return { isTTY: err.isTTY, write: (s: string) => (err.isTTY || ++n % every === 0 || s.includes('done in') ? err.write(s) : true) } as never;
}

interface Plan {
  calibratedSecondsPerUpdate: number | null;
  steps: number;
  markSteps: number[];
  checkpointEvery: number;
  keepLast: number;
  wallMinutes: number | null;
}

interface MarkResult {
  mark: number;
  minutes: number;
  step: number;
  checkpoint: string;
  probe: number;
  probeTrain: number;
  finetune: number | null;
}

const pct = (x: number | null | undefined) => (typeof x === 'number' ? `${(100 * x).toFixed(1)}%` : '–');
const num = (x: number) => Number(x.toPrecision(3));

// ---- pretraining, one arm after the other (each uses both cores) ----
const pretrained: { arm: string; pre: string; plan: Plan }[] = [];
for (const arm of arms) {
  const armDir = join(out, arm);
  const pre = join(armDir, 'pretrain');
  const planFile = join(armDir, 'plan.json');
  const version = modality.presets[arm]?.objective?.version ?? 1;
  if (reuse && existsSync(join(pre, 'train-summary.json'))) {
    const summary = JSON.parse(readFileSync(join(pre, 'train-summary.json'), 'utf8')) as { step: number };
    const cfg = runConfig(pre);
    const plan: Plan = existsSync(planFile)
      ? (JSON.parse(readFileSync(planFile, 'utf8')) as Plan)
      : { calibratedSecondsPerUpdate: null, steps: summary.step, markSteps: [], checkpointEvery: cfg.train.checkpointEvery, keepLast: cfg.train.keepLast, wallMinutes: null };
    log(`evidence: ${arm}: reusing ${pre} (${summary.step} updates)`);
    pretrained.push({ arm, pre, plan });
    continue;
  }
  // A run appends to an existing metrics.jsonl and keeps old checkpoints: start from empty folders.
  rmSync(pre, { recursive: true, force: true });
  rmSync(join(armDir, 'calibration'), { recursive: true, force: true });
  // Calibrate this preset's update time so the run fits the budget with a schedule that completes.
  const calibrated = await calibrateUpdateSeconds({ modality: 'vision', preset: arm, out: join(armDir, 'calibration'), overrides: { ...base, ...par } });
  const stepSec = calibrated * 1.03;
  const steps = Math.max(20, Math.floor((minutes * 60) / stepSec));
  const markSteps = marks.map((m) => Math.min(steps, Math.max(1, Math.ceil((m * 60) / stepSec))));
  const every = checkpointSpacing(markSteps, steps, Math.max(marks.length, Math.ceil(0.05 * markSteps[0]!)));
  const keepLast = Math.ceil(steps / every) + 1;
  log(
    `evidence: ${arm} (data2vec ${version}.0): ${stepSec.toFixed(2)} s/update (64 images, ${workers} worker thread(s)) on ${activeBackend()} -> ${steps} pretraining steps for ${minutes} min on ${data}; ` +
      `marks ${marks.join(', ')} min ~ steps ${markSteps.join(', ')}, checkpoint every ${every}`,
  );
  if (keepLast > 40) log(`evidence: ${arm}: ${keepLast} checkpoints will be kept (marks far from a common spacing); check the disk`);
  const plan: Plan = { calibratedSecondsPerUpdate: calibrated, steps, markSteps, checkpointEvery: every, keepLast, wallMinutes: null };
  writeFileSync(planFile, JSON.stringify(plan, null, 2) + '\n');

  const t0 = performance.now();
  await pretrain({
    modality: 'vision',
    preset: arm,
    log,
    progressStream: thinnedProgress(Math.max(1, Math.ceil(steps / 20))),
    overrides: {
      ...base,
      ...par,
      out: pre,
      'train.steps': steps,
      'train.logEvery': 1,
      'train.checkpointEvery': every,
      'train.keepLast': keepLast,
      'optim.warmupSteps': Math.max(5, Math.floor(steps * 0.1)),
      'objective.emaAnnealSteps': steps,
      // data2vec 1.0 keeps the settings this script always used; 2.0 keeps its preset's lr and EMA range.
      ...(version === 1 ? { 'optim.lr': 2e-3, 'objective.emaStart': 0.99, 'objective.emaEnd': 0.999 } : {}),
    },
  });
  plan.wallMinutes = (performance.now() - t0) / 60000;
  writeFileSync(planFile, JSON.stringify(plan, null, 2) + '\n');
  pretrained.push({ arm, pre, plan });
}

// ---- baselines, once: random-init and raw-pixel probes, fine-tuning from scratch ----
const probeOv = { ...base, 'probe.trainImages': probeTrain, 'probe.testImages': probeTest };
const ftOv = { ...base, 'finetune.labelsPerClass': 100, 'finetune.steps': ftSteps, 'finetune.warmupSteps': 10, 'finetune.lr': 1e-3, 'probe.testImages': probeTest };
const basePreset = arms[0]!;
/** With --reuse, an evaluation already written (eval*.json) is read back instead of run again. */
const once = async (file: string, run: () => Promise<Record<string, number>>): Promise<Record<string, number>> =>
  reuse && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>) : run();
const probeRand = await once(join(out, 'probe-random', 'eval-probe.json'), () => evaluate({ modality, preset: basePreset, log, task: 'probe', overrides: { ...probeOv, out: join(out, 'probe-random') } }));
const probePix = await once(join(out, 'probe-pixels', 'eval-pixels.json'), () => evaluate({ modality, preset: basePreset, log, task: 'pixels', overrides: { ...probeOv, out: join(out, 'probe-pixels') } }));
const ftScratch = skipFinetune
  ? undefined
  : { metrics: await once(join(out, 'finetune-scratch', 'eval.json'), async () => (await finetune({ modality, preset: basePreset, log, overrides: { ...ftOv, out: join(out, 'finetune-scratch') } })).metrics) };

// ---- per arm and mark: probe (and fine-tune) from the checkpoint closest to the mark ----
const armResults: Record<string, Record<string, unknown>> = {};
const curves: { arm: string; marks: MarkResult[]; last: { probe: Record<string, number>; finetune: Record<string, number> | null } }[] = [];
for (const { arm, pre, plan } of pretrained) {
  const armDir = join(out, arm);
  const cfg = runConfig(pre);
  const summary = JSON.parse(readFileSync(join(pre, 'train-summary.json'), 'utf8')) as { step: number; secondsPerStep: number; itemsPerSecond: number };
  const records = readMetrics(join(pre, METRICS_FILE));
  const at = minutesByStep(pre);
  const ckpts = new CheckpointManager(pre, { keepLast: 1 }).list().filter((c) => at.has(c.step));
  if (ckpts.length === 0) throw new ConfigError(`${pre} has no checkpoint at a step logged in ${METRICS_FILE}`, 'reuse');
  const done = new Map<string, { probe: Record<string, number>; finetune: Record<string, number> | null }>();
  const results: MarkResult[] = [];
  for (const mark of marks) {
    const best = ckpts.reduce((a, b) => (Math.abs(at.get(b.step)! - mark) <= Math.abs(at.get(a.step)! - mark) ? b : a));
    if (!done.has(best.dir) || (!done.get(best.dir)!.finetune && !skipFinetune && finetuneMarks.has(mark))) {
      const name = basename(best.dir);
      const probe = await once(join(armDir, `probe-${name}`, 'eval-probe.json'), () =>
        evaluate({ modality, preset: arm, log, task: 'probe', overrides: { ...probeOv, out: join(armDir, `probe-${name}`), 'finetune.init': best.dir } }),
      );
      const ftDir = join(armDir, `finetune-${name}`);
      const ft =
        skipFinetune || !finetuneMarks.has(mark)
          ? null
          : await once(join(ftDir, 'eval.json'), async () => (await finetune({ modality, preset: arm, log, overrides: { ...ftOv, out: ftDir, 'finetune.init': best.dir } })).metrics);
      done.set(best.dir, { probe, finetune: ft });
    }
    const r = done.get(best.dir)!;
    results.push({ mark, minutes: at.get(best.step)!, step: best.step, checkpoint: best.dir, probe: r.probe['accuracy']!, probeTrain: r.probe['trainAccuracy']!, finetune: r.finetune ? r.finetune['accuracy']! : null });
  }
  const clones = cfg.objective.clones ?? 1;
  const masked = maskedPerImage(cfg);
  const v = cfg.vision;
  armResults[arm] = {
    preset: arm,
    objectiveVersion: cfg.objective.version ?? 1,
    secondsPerUpdate: summary.secondsPerStep,
    calibratedSecondsPerUpdate: plan.calibratedSecondsPerUpdate,
    steps: summary.step,
    minutes: at.get(summary.step) ?? null,
    wallMinutes: plan.wallMinutes,
    batchSize: cfg.train.batchSize * cfg.optim.accumulate,
    workers: cfg.train.workers,
    imagesPerSecond: summary.itemsPerSecond,
    patchesPerImage: (v.imageSize / v.patchSize) ** 2,
    maskedPatchesPerImage: masked,
    clones,
    maskedPatchesPerSecond: summary.itemsPerSecond * masked * clones,
    checkpointEvery: cfg.train.checkpointEvery,
    hyperparameters: {
      lr: cfg.optim.lr,
      warmupSteps: cfg.optim.warmupSteps,
      ema: [cfg.objective.emaStart, cfg.objective.emaEnd],
      emaAnnealSteps: cfg.objective.emaAnnealSteps,
      topK: cfg.objective.topK,
      maskRatio: cfg.masking.ratio,
    },
    firstLoss: records[0]?.['loss'] ?? null,
    lastLoss: records.at(-1)?.['loss'] ?? null,
    marks: results,
  };
  curves.push({ arm, marks: results, last: done.get(results.at(-1)!.checkpoint)! });
}

const results: Record<string, unknown> = {
  machine: { backend: activeBackend(), cores: cpus().length },
  data,
  budget: { minutesPerArm: minutes, marks, workers, probeTrain, probeTest, finetuneSteps: skipFinetune ? null : ftSteps },
  arms: armResults,
  baselines: {
    linearProbe: { random: probeRand, pixels: probePix },
    finetune1000Labels: ftScratch ? { scratch: ftScratch.metrics, steps: ftSteps } : null,
  },
};
if (arms.length === 1) {
  // The single-arm layout this script wrote before it compared arms (final mark).
  const a = armResults[arms[0]!]!;
  const { last } = curves[0]!;
  results['pretrain'] = {
    minutes: a['wallMinutes'] ?? a['minutes'],
    steps: a['steps'],
    batchSize: a['batchSize'],
    workers,
    imagesPerSecond: a['imagesPerSecond'],
    hyperparameters: a['hyperparameters'],
    secondsPerStep: a['secondsPerUpdate'],
    firstLoss: a['firstLoss'],
    lastLoss: a['lastLoss'],
  };
  results['linearProbe'] = { pretrained: last.probe, random: probeRand, pixels: probePix };
  if (ftScratch) results['finetune1000Labels'] = { pretrained: last.finetune, scratch: ftScratch.metrics, steps: ftSteps };
}
writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2) + '\n');

// ---- charts ----
// Marks that fell on the same checkpoint are one point of a curve and one row of the table.
const distinct = (ms: MarkResult[]) => ms.filter((m, i) => i === 0 || m.step !== ms[i - 1]!.step);
const xMax = Math.max(minutes, ...curves.flatMap((c) => distinct(c.marks).map((m) => m.minutes)));
const flat = (name: string, y: number): LineSeries => ({ name, points: [{ x: 0, y }, { x: xMax, y }], dashed: true, strokeWidth: 1.5 });
const armsTitle = arms.length === 1 ? `${arms[0]} ViT` : arms.join(' vs ');
const plots: string[] = [];
const probeChart = join(out, 'accuracy-vs-minutes.png');
await lineChartPng(probeChart, {
  title: `Fashion-MNIST linear probe vs pretraining time (${armsTitle}, ${minutes} min per arm)`,
  xLabel: 'minutes of data2vec pretraining',
  yLabel: 'linear-probe test accuracy',
  series: [...curves.map((c) => ({ name: c.arm, points: distinct(c.marks).map((m) => ({ x: m.minutes, y: m.probe })) })), flat('random init', probeRand['accuracy']!), flat('raw pixels', probePix['accuracy']!)],
});
plots.push(probeChart);
const ftChart = join(out, 'finetune-accuracy-vs-minutes.png');
// A chart of an earlier run with fine-tuning would otherwise sit beside this run's results.
if (!ftScratch) for (const f of [ftChart, ftChart.replace(/\.png$/, '.svg')]) rmSync(f, { force: true });
if (ftScratch) {
  await lineChartPng(ftChart, {
    title: `Fashion-MNIST fine-tuning, 1000 labels, vs pretraining time (${armsTitle})`,
    xLabel: 'minutes of data2vec pretraining',
    yLabel: 'fine-tuned test accuracy',
    series: [...curves.map((c) => ({ name: c.arm, points: distinct(c.marks).filter((m) => m.finetune !== null).map((m) => ({ x: m.minutes, y: m.finetune! })) })), flat('from scratch', ftScratch.metrics['accuracy']!)],
  });
  plots.push(ftChart);
}
const lastOf = curves.map((c) => ({ arm: c.arm, last: c.marks.at(-1)! }));
const label = (arm: string) => (arms.length === 1 ? 'pretrained' : arm);
const bars: Bar[] = [
  ...lastOf.map(({ arm, last }) => ({ label: label(arm), value: last.probe, group: 'linear probe' })),
  { label: 'random init', value: probeRand['accuracy']!, group: 'linear probe' },
  { label: 'raw pixels', value: probePix['accuracy']!, group: 'linear probe' },
  ...(ftScratch
    ? [
        ...lastOf.map(({ arm, last }) => ({ label: label(arm), value: last.finetune!, group: 'fine-tune, 1000 labels' })),
        { label: 'from scratch', value: ftScratch.metrics['accuracy']!, group: 'fine-tune, 1000 labels' },
      ]
    : []),
];
const lastMinutes = Math.max(...lastOf.map((l) => l.last.minutes));
await barChartPng(join(out, 'accuracy.png'), {
  title: `Fashion-MNIST test accuracy (${armsTitle}, ${lastMinutes.toFixed(lastMinutes < 10 ? 1 : 0)} min data2vec pretraining)`,
  yLabel: 'accuracy',
  bars,
});
plots.unshift(join(out, 'accuracy.png'));
plots.push(...pretrained.map((p) => join(p.pre, 'loss.png')));

console.log(JSON.stringify(results, null, 2));
console.log(`plots: ${plots.join(', ')}`);
const rows = [
  '| arm | minutes | step | probe | fine-tune |',
  '|---|---|---|---|---|',
  ...curves.flatMap((c) => distinct(c.marks).map((m) => `| ${c.arm} | ${num(m.minutes)} | ${m.step} | ${pct(m.probe)} | ${pct(m.finetune)} |`)),
  `| random init / scratch | 0 | 0 | ${pct(probeRand['accuracy'])} | ${pct(ftScratch?.metrics['accuracy'])} |`,
  `| raw pixels | – | – | ${pct(probePix['accuracy'])} | – |`,
];
console.log('\n' + rows.join('\n'));
