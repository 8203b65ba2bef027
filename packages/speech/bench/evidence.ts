/**
 * Evidence for @d2v/speech (a benchmark, not a test):
 *   1. build a bigger espeak-ng corpus into runs/ (skipped when --corpus already holds one);
 *   2. pretrain a preset (--preset: `tiny` = data2vec 1.0, `tiny-v2` = data2vec 2.0, same encoder) for a
 *      time budget on its train split (both cores: one worker thread);
 *   3. CTC fine-tune on a small labelled subset from the pretrained checkpoint and from scratch
 *      (same recipe, steps and seed; the two runs go in parallel, one per core), test WER/CER;
 *   4. results.json, wer-cer.png, finetune-loss.png and the pretraining curves (pretrain/*.png).
 * Every run (calibration, pretraining, both fine-tunings) uses the --preset's config.
 *   npx tsx packages/speech/bench/evidence.ts [--preset tiny] [--minutes 15] [--corpus runs/speech-corpus] [--utterances 2000]
 *     [--labels 200] [--finetune-steps 500] [--finetune-lr 1e-3] [--workers 1] [--out runs/speech-evidence] [--set key=value ...]
 *     [--pretrain-set key=value ...] (extra overrides for pretraining only)
 *     [--reuse-pretrain] (keep the pretraining already in --out, redo only the fine-tuning; same --preset), e.g.
 *     --reuse-pretrain --tag unfrozen --set finetune.freezeFeatureEncoder=false --finetune-steps 1500
 *     [--tag NAME] (suffix for the fine-tuning dirs, results and plots)
 *     [--steps N --calibrated S] (pretraining updates instead of calibrating them to --minutes, with the seconds per
 *                        update a quiet calibration measured: the marks' minutes are updates x S, so a run that
 *                        shared the CPU reports the budget's minutes, not its own wall time)
 *     [--marks] (checkpoints at 1/3 and 2/3 of the updates too; each, the last and a random init get the voice-ID
 *                linear probe (--probe-corpus, default runs/speech-voices, built by bench/classify-evidence.ts):
 *                an accuracy-vs-minutes curve, marks.png)
 *     [--no-scratch] (skip the from-scratch fine-tuning, e.g. for a second preset in the same sitting)
 *     [--no-finetune] (pretraining and probes only)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import {
  initBackend,
  pretrain,
  finetune,
  evaluate,
  CheckpointManager,
  barChartPng,
  lineChartPng,
  readMetrics,
  activeBackend,
  resolveConfig,
  CollapseError,
  ConfigError,
} from '@d2v/core';
import { calibrateUpdateSeconds, scriptArgs } from '@d2v/core/bench';
import { modality, buildCorpus, framesForSamples, convLayersOf, loadSpeechSplit, SpeechDataSource } from '../src/index.js';
import { finetunesInParallel, serveFinetuneChild, type FinetuneChildResult } from './parallelFinetunes.js';

const log = (m: string) => console.error(m);
const silent = { log: () => {}, plots: false, progressStream: { write: () => true, isTTY: false } as never };

// Child mode: one fine-tuning run (finetunesInParallel starts them at once, one per core).
await serveFinetuneChild();

const args = scriptArgs({
  usage: 'npx tsx packages/speech/bench/evidence.ts: pretrain a preset for a time budget, then CTC fine-tune it against scratch (the comment at the top of the file explains every option)',
  values: {
    preset: 'tiny',
    minutes: '15',
    labels: '200',
    'finetune-steps': '500',
    'finetune-lr': '1e-3',
    workers: '1',
    out: 'runs/speech-evidence',
    corpus: undefined,
    utterances: '2000',
    backend: 'wasm',
    tag: '',
    steps: '0',
    calibrated: '0',
    'probe-corpus': undefined,
  },
  switches: ['reuse-pretrain', 'marks', 'no-scratch', 'no-finetune'],
  sets: ['set', 'pretrain-set'],
});
const preset = args.values.preset;
if (!(preset in modality.presets)) throw new ConfigError(`--preset: speech has no preset '${preset}'; presets: ${Object.keys(modality.presets).join(', ')}`, 'preset');
const minutes = args.number('minutes');
const labels = args.number('labels');
const ftSteps = args.number('finetune-steps');
const ftLr = args.number('finetune-lr');
const workers = args.number('workers');
const out = resolve(args.values.out);
const corpus = resolve(args.values.corpus ?? join(out, '..', 'speech-corpus'));
const utterances = args.number('utterances');
const withMarks = args.switches.marks;
const probeCorpus = resolve(args.values['probe-corpus'] ?? join(out, '..', 'speech-voices'));
if (withMarks && !existsSync(join(probeCorpus, 'train.voice'))) {
  throw new ConfigError(`--marks: ${probeCorpus} holds no voice labels (train.voice); build it with bench/classify-evidence.ts or pass --probe-corpus DIR`, 'probe-corpus');
}
const sets = args.sets.set;
const preSets = args.sets['pretrain-set'];
mkdirSync(out, { recursive: true });
await initBackend(args.values.backend);

// 1. Corpus: espeak-ng is fast (about 15 utterances/s); build it once and reuse it.
let corpusSeconds: number | null = null;
if (!existsSync(join(corpus, 'train.tsv'))) {
  const t = performance.now();
  buildCorpus({ out: corpus, utterances, seed: 7, log });
  corpusSeconds = (performance.now() - t) / 1000;
  log(`evidence: built ${utterances} utterances into ${corpus} in ${corpusSeconds.toFixed(0)} s`);
}
const corpusInfo = JSON.parse(readFileSync(join(corpus, 'corpus.json'), 'utf8')) as { splits: Record<string, { utterances: number; seconds: number; voices: string[] }> };
const base = { 'data.path': corpus, ...sets };

// 2. Pretraining on both cores: the preset's batch split into one micro-batch per thread.
const batch = resolveConfig({ modality: 'speech', modalitySchema: modality.schema, presets: modality.presets, preset }).train.batchSize;
const par = workers > 0 ? { 'train.workers': workers, 'optim.accumulate': workers + 1, 'train.batchSize': Math.round(batch / (workers + 1)) } : {};
// --reuse-pretrain: keep an earlier run's pretraining (same --out) and only redo the fine-tuning.
const pre = join(out, 'pretrain');
const reuse = args.switches['reuse-pretrain'] && existsSync(join(pre, 'checkpoints'));
if (reuse && existsSync(join(pre, 'config.json'))) {
  const was: unknown = JSON.parse(readFileSync(join(pre, 'config.json'), 'utf8'))['preset'];
  if (was !== preset) throw new ConfigError(`--reuse-pretrain: ${pre} was pretrained with preset '${was}', not '${preset}'; pass --preset ${was}`, 'preset');
}
const earlier = reuse && existsSync(join(out, 'results.json')) ? (JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { pretrain: { minutes: number; steps: number } }).pretrain : null;
let steps = earlier?.steps ?? (reuse ? (readMetrics(join(pre, 'metrics.jsonl')).at(-1)?.step ?? 1) : 0);
// --tag NAME: fine-tuning dirs, results and plots get a -NAME suffix (keeps earlier fine-tunings).
const tag = args.values.tag ? `-${args.values.tag}` : '';
// data2vec version of the pretraining (its resolved config: --set / --pretrain-set may change it).
const version = resolveConfig({ modality: 'speech', modalitySchema: modality.schema, presets: modality.presets, preset, overrides: new Map(Object.entries({ ...base, ...preSets })) }).objective.version ?? 1;
let calibrated = args.number('calibrated') || null;
if (!reuse && args.number('steps') > 0) {
  steps = args.number('steps');
  log(`evidence: ${preset} (data2vec ${version}.0): ${steps} pretraining updates (--steps; ${batch} utterances, ${workers} worker thread(s)) on ${activeBackend()}`);
} else if (!reuse) {
  const stepSec = (await calibrateUpdateSeconds({ modality: 'speech', preset, out: join(out, 'calibration'), overrides: { ...base, ...par, ...preSets } })) * 1.03;
  calibrated = stepSec;
  steps = Math.max(20, Math.floor((minutes * 60) / stepSec));
  log(`evidence: ${preset} (data2vec ${version}.0): ${stepSec.toFixed(2)} s/update (${batch} utterances, ${workers} worker thread(s)) on ${activeBackend()} -> ${steps} pretraining updates for ${minutes} min`);
} else {
  log(`evidence: reusing the ${preset} (data2vec ${version}.0) pretraining in ${pre}`);
}

const t0 = performance.now();
const preOverrides = {
  ...base,
  ...par,
  out: pre,
  'train.steps': steps,
  // --marks: checkpoints at 1/3 and 2/3 of the updates (and the last), all kept.
  ...(withMarks ? { 'train.checkpointEvery': Math.ceil(steps / 3), 'train.keepLast': 4 } : { 'train.checkpointEvery': Math.max(50, Math.floor(steps / 4)) }),
  // A schedule length (the EMA anneals over the whole run): data2vec 1.0 and 2.0 alike; no other objective overrides.
  'objective.emaAnnealSteps': steps,
  ...preSets,
};
// A collapse stop (fairseq's variance guard) is a result too: fine-tune from the last checkpoint and say so.
let collapse: string | null = null;
const pr = reuse
  ? null
  : await pretrain({ modality: 'speech', preset, log, overrides: preOverrides }).catch((err: Error) => {
      if (!(err instanceof CollapseError)) throw err;
      collapse = err.message;
      log(`evidence: ${err.message} -> fine-tuning from the last checkpoint`);
      return null;
    });
// The pretraining's config (pretrain resolved the same preset and options).
const c = resolveConfig({ modality: 'speech', modalitySchema: modality.schema, presets: modality.presets, preset, overrides: new Map(Object.entries(preOverrides)) });
const preLog = readMetrics(join(pre, 'metrics.jsonl')).filter((r) => typeof r['loss'] === 'number');
const preLosses = pr?.losses ?? preLog.map((r) => r['loss'] as number);
// Reused without its results.json (e.g. a run stopped during fine-tuning): the logged update times, summed.
const loggedSeconds = () => preLog.reduce((sum, r, i) => sum + (r.step - (i > 0 ? preLog[i - 1]!.step : 0)) * ((r['sec'] as number) ?? 0), 0);
const pretrainSec = earlier ? earlier.minutes * 60 : reuse ? loggedSeconds() : (performance.now() - t0) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const secondsPerStep = pr?.secondsPerStep ?? median(preLog.map((r) => r['sec'] as number).filter((x) => typeof x === 'number'));
const utterancesPerSecond = pr?.itemsPerSecond ?? (c.train.batchSize * c.optim.accumulate) / secondsPerStep;

// Frames per pretraining utterance: every micro-batch is cropped to its shortest row (at most
// data.maxSampleLength), so the exact count follows from the utterance lengths and the batch plan.
const src = new SpeechDataSource(loadSpeechSplit(c, 'train'), { seed: c.seed, shuffle: true, pad: false, maxSampleLength: c.data.maxSampleLength });
const minLen = c.data.minSampleLength;
let frames = 0;
let seen = 0;
const micro = steps * c.optim.accumulate;
for (let i = 0; i < Math.min(micro, 2000); i++) {
  const rows = src.indices(i, c.train.batchSize).filter((j) => src.dataset.sizes[j]! >= minLen);
  if (rows.length === 0) continue;
  const crop = Math.min(...rows.map((j) => src.dataset.sizes[j]!), src.opts.maxSampleLength!);
  frames += framesForSamples(crop, convLayersOf(c)) * rows.length;
  seen += rows.length;
}
const framesPerUtterance = frames / seen;

// --marks: the voice-ID linear probe (frozen features) of every kept checkpoint and of a random init.
// The budget's minutes: calibrated update time x updates when known (a run sharing the CPU takes longer).
const budgetMinutes = calibrated ? (calibrated * steps) / 60 : pretrainSec / 60;
const probeOverrides = { ...sets, 'classify.path': probeCorpus, 'classify.labels': 'voice', 'classify.classes': '' };
const marks: { step: number; minutes: number; probe: number }[] = [];
let probeRandom: number | null = null;
if (withMarks) {
  const probe = async (name: string, init?: string) =>
    (await evaluate({ modality, preset, ...silent, task: 'probe', overrides: { ...probeOverrides, out: join(out, `probe-${name}`), ...(init ? { 'finetune.init': init } : {}) } }))['accuracy']!;
  for (const ck of new CheckpointManager(pre, { keepLast: 1 }).list()) {
    const acc = await probe(`step${ck.step}`, ck.dir);
    marks.push({ step: ck.step, minutes: (ck.step / steps) * budgetMinutes, probe: acc });
    log(`evidence: mark at update ${ck.step} (~${((ck.step / steps) * budgetMinutes).toFixed(1)} min): voice-ID probe ${(100 * acc).toFixed(1)}%`);
  }
  probeRandom = await probe('random');
  log(`evidence: voice-ID probe of a random init: ${(100 * probeRandom).toFixed(1)}%`);
  const flat = (name: string, y: number) => ({ name, points: [{ x: 0, y }, { x: budgetMinutes, y }], dashed: true, strokeWidth: 1.5 });
  await lineChartPng(join(out, 'marks.png'), {
    title: `Voice-ID linear probe (frozen features) vs minutes of ${preset} pretraining`,
    xLabel: 'minutes of pretraining (2 cores)',
    yLabel: 'test accuracy',
    series: [{ name: `pretrained (${preset})`, points: marks.map((m) => ({ x: m.minutes, y: m.probe })) }, flat('random init', probeRandom)],
  });
}

// 3. CTC fine-tuning, pretrained vs scratch, in parallel (the Trainer fine-tunes on one thread).
const ft = { ...base, 'finetune.labelledUtterances': labels, 'finetune.steps': ftSteps, 'finetune.lr': ftLr, 'finetune.warmupSteps': Math.max(5, Math.round(ftSteps * 0.1)), 'train.logEvery': 10 };
const runs: Record<string, Record<string, unknown>> = args.switches['no-finetune']
  ? {}
  : {
      pretrained: { ...ft, out: join(out, `finetune-pretrained${tag}`), 'finetune.init': pre },
      ...(args.switches['no-scratch'] ? {} : { scratch: { ...ft, out: join(out, `finetune-scratch${tag}`) } }),
    };
const t1 = performance.now();
const fr: Partial<Record<'pretrained' | 'scratch', FinetuneChildResult>> = await finetunesInParallel(
  import.meta.url,
  out,
  tag,
  Object.fromEntries(Object.entries(runs).map(([name, overrides]) => [name, { preset, overrides }])),
);
const ftSec = (performance.now() - t1) / 1000;

// 4. Results and plots.
const summary = {
  machine: { backend: activeBackend(), cores: cpus().length },
  preset,
  overrides: { all: sets, pretrainOnly: preSets },
  corpus: { path: corpus, buildSeconds: corpusSeconds, splits: Object.fromEntries(Object.entries(corpusInfo.splits).map(([k, v]) => [k, { utterances: v.utterances, seconds: v.seconds, voices: v.voices.length }])) },
  pretrain: {
    preset,
    objectiveVersion: c.objective.version ?? 1,
    clones: c.objective.clones ?? 1,
    minutes: pretrainSec / 60,
    calibratedSecondsPerUpdate: calibrated,
    budgetMinutes,
    steps,
    stepsDone: preLog.at(-1)?.step ?? 0,
    collapse,
    utterancesPerUpdate: c.train.batchSize * c.optim.accumulate,
    workers,
    secondsPerStep,
    utterancesPerSecond,
    framesPerUtterance,
    framesPerSecond: utterancesPerSecond * framesPerUtterance,
    audioSecondsPerSecond: (utterancesPerSecond * framesPerUtterance) / 50,
    firstLoss: preLosses[0],
    lastLoss: preLosses.at(-1),
    model: c.model,
    speech: c.speech,
    hyperparameters: { lr: c.optim.lr, schedule: c.optim.schedule, ema: [c.objective.emaStart, c.objective.emaEnd, c.objective.emaAnnealSteps], topK: c.objective.topK, masking: c.masking },
  },
  marks: withMarks ? { probeCorpus, random: probeRandom, checkpoints: marks } : null,
  finetune: fr.pretrained
    ? {
        labelledUtterances: labels,
        steps: ftSteps,
        lr: fr.pretrained.lr,
        freezeFeatureEncoder: c.finetune.freezeFeatureEncoder,
        minutesInParallel: ftSec / 60,
        pretrained: fr.pretrained.metrics,
        scratch: fr.scratch?.metrics ?? null,
        finalLoss: { pretrained: fr.pretrained.losses.at(-1), scratch: fr.scratch?.losses.at(-1) ?? null },
      }
    : null,
};
writeFileSync(join(out, `results${tag}.json`), JSON.stringify(summary, null, 2) + '\n');
const test = corpusInfo.splits['test']!;
const arms = (['pretrained', 'scratch'] as const).filter((a) => fr[a]);
const armName = { pretrained: 'pretrained', scratch: 'from scratch' } as const;
if (arms.length > 0) {
  await barChartPng(join(out, `wer-cer${tag}.png`), {
    title: `Test WER/CER, ${test.voices.length} unseen voices (${labels} labels; ${budgetMinutes.toFixed(0)} min ${preset} pretraining)`,
    yLabel: 'error rate (lower is better)',
    bars: (['wer', 'cer'] as const).flatMap((m) => arms.map((a) => ({ label: m.toUpperCase(), value: fr[a]!.metrics[m]!, group: armName[a] }))),
  });
  const curve = (dir: string) => readMetrics(join(dir, 'metrics.jsonl')).filter((r) => typeof r['loss'] === 'number').map((r) => ({ x: r.step, y: r['loss'] as number }));
  // Logged every 10 updates: few enough points to draw raw (an EMA would lag behind the first drop).
  await lineChartPng(join(out, `finetune-loss${tag}.png`), {
    title: `CTC fine-tuning loss, ${labels} labelled utterances (${preset})`,
    xLabel: 'update',
    yLabel: 'CTC loss',
    series: arms.map((a) => ({ name: armName[a], points: curve(runs[a]!['out'] as string) })),
  });
}
console.log(JSON.stringify(summary, null, 2));
const plots = [...(arms.length > 0 ? [`wer-cer${tag}.png`, `finetune-loss${tag}.png`] : []), ...(withMarks ? ['marks.png'] : [])].map((f) => join(out, f));
console.log(`plots: ${[...plots, join(pre, 'loss.png')].join(', ')}`);
process.exit(0);
