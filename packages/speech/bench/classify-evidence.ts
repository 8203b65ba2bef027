/**
 * Evidence for utterance classification (a benchmark, not a test): does pretraining help voice ID?
 * Given a pretraining run (--init), on a voice-ID corpus (every voice in train and test, test
 * sentences never heard in training):
 *   1. fine-tune the classification head (`finetune.task classify`) from the pretrained encoder and
 *      from scratch: same recipe, steps and seed; the two runs go in parallel, one per core;
 *   2. linear probe on frozen features: the pretrained encoder vs its random initialisation;
 *   3. results.json, accuracy.png, finetune-loss.png, and each fine-tuning's confusion.png.
 * The model settings are the pretraining run's own (its config.json).
 *   npx tsx packages/speech/bench/classify-evidence.ts --init runs/speech-evidence-2/pretrain
 *     [--corpus runs/speech-voices | bundled] [--utterances 1200] [--voices 40] (built with espeak-ng when missing)
 *     [--labels voice] [--steps 300] [--lr 5e-4] [--labelled 0] [--out runs/speech-classify-evidence]
 *     [--set key=value ...] [--tag NAME] [--backend wasm]
 * --corpus bundled uses data/espeak-voices (8 voices, 48 + 32 utterances: seconds, for a smoke run).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend, finetune, evaluate, barChartPng, lineChartPng, readMetrics, activeBackend, resolveCheckpointDir, resolveStoredConfig, ConfigError } from '@d2v/core';
import { scriptArgs } from '@d2v/core/bench';
import { modality, buildCorpus, bundledVoicesDir } from '../src/index.js';
import { finetunesInParallel, serveFinetuneChild } from './parallelFinetunes.js';

const log = (m: string) => console.error(m);

// Child mode: one fine-tuning run (finetunesInParallel starts both at once, one per core).
await serveFinetuneChild();

const args = scriptArgs({
  usage: 'npx tsx packages/speech/bench/classify-evidence.ts: voice ID from a pretraining run (--init) vs from scratch, fine-tuned and probed (the comment at the top of the file explains every option)',
  values: { init: '', out: 'runs/speech-classify-evidence', corpus: undefined, utterances: '1200', voices: '40', labels: 'voice', steps: '300', lr: '5e-4', labelled: '0', backend: 'wasm', tag: '' },
  sets: ['set'],
});
const sets = args.sets.set;
const initArg = args.values.init;
if (!initArg) throw new ConfigError('--init RUN is required: the pretraining run to compare with scratch (e.g. runs/speech/pretrain)', 'init');
const init = resolve(initArg);
const initConfig = join(init, 'config.json');
if (!existsSync(initConfig)) throw new ConfigError(`--init ${init}: no config.json (a run folder of d2v pretrain --modality speech)`, 'init');
resolveCheckpointDir(init); // a run with a checkpoint, or a clear error now rather than after the scratch run
const stored: Record<string, unknown> = JSON.parse(readFileSync(initConfig, 'utf8'));
if (stored['modality'] !== 'speech') throw new ConfigError(`--init ${init} is a ${String(stored['modality'])} run, not speech`, 'init');
// The run's config, read under today's option names.
const pre = resolveStoredConfig(modality, stored, initConfig, log);

const out = resolve(args.values.out);
const corpusArg = args.values.corpus ?? join(out, '..', 'speech-voices');
const corpus = corpusArg === 'bundled' ? bundledVoicesDir() : resolve(corpusArg);
const utterances = args.number('utterances');
const voices = args.number('voices');
const labels = args.values.labels;
const steps = args.number('steps');
const lr = args.number('lr');
const labelled = args.number('labelled');
const backend = args.values.backend;
const tag = args.values.tag ? `-${args.values.tag}` : '';
for (const [k, v] of [['steps', steps], ['lr', lr], ['utterances', utterances], ['voices', voices], ['labelled', labelled]] as const) {
  if (!Number.isFinite(v) || v < 0) throw new ConfigError(`--${k} must be a non-negative number`, k);
}
mkdirSync(out, { recursive: true });
await initBackend(backend);

// 1. The voice-ID corpus: espeak-ng, every voice in every split, 20% of each voice's sentences held out.
let corpusSeconds: number | null = null;
if (!existsSync(join(corpus, 'train.tsv'))) {
  const t = performance.now();
  buildCorpus({ out: corpus, utterances, voices, seed: 1, splitBy: 'utterance', validFraction: 0, testFraction: 0.2, log });
  corpusSeconds = (performance.now() - t) / 1000;
  log(`classify-evidence: built ${utterances} utterances of ${voices} voices into ${corpus} in ${corpusSeconds.toFixed(0)} s`);
}

// 2. Fine-tuning, pretrained vs scratch, in parallel (the Trainer fine-tunes on one thread).
const ft = {
  ...sets,
  backend,
  'finetune.task': 'classify',
  'classify.path': corpus,
  'classify.labels': labels,
  'classify.classes': '',
  'finetune.steps': steps,
  'finetune.lr': lr,
  'finetune.warmupSteps': Math.max(5, Math.round(steps * 0.1)),
  'finetune.labelledUtterances': labelled,
  'train.logEvery': 10,
  // The pretraining's parallel settings do not apply: each fine-tuning runs on one thread.
  'optim.accumulate': 1,
  'train.workers': 0,
  resume: false,
};
const runs: Record<'pretrained' | 'scratch', Record<string, unknown>> = {
  pretrained: { ...ft, out: join(out, `finetune-pretrained${tag}`), 'finetune.init': init },
  scratch: { ...ft, out: join(out, `finetune-scratch${tag}`), 'finetune.init': '' },
};
const t1 = performance.now();
const fr = await finetunesInParallel(import.meta.url, out, tag, {
  pretrained: { preset: pre.preset, configFile: initConfig, overrides: runs.pretrained },
  scratch: { preset: pre.preset, configFile: initConfig, overrides: runs.scratch },
});
const ftMinutes = (performance.now() - t1) / 60000;

// 3. Linear probe on frozen features, pretrained vs random init (the same probe `d2v pretrain` ends with).
const probe = async (name: string, from: string) =>
  evaluate({ modality, preset: pre.preset, configFile: initConfig, task: 'probe', log: () => {}, overrides: { ...sets, backend, 'classify.path': corpus, 'classify.labels': labels, 'classify.classes': '', 'finetune.init': from, out: join(out, `probe-${name}${tag}`) } });
const t2 = performance.now();
const probes = { pretrained: await probe('pretrained', init), randomInit: await probe('random', '') };
const probeMinutes = (performance.now() - t2) / 60000;

// 4. Results and plots.
const acc = (m: Record<string, number>) => m['accuracy']!;
const summary = {
  machine: { backend: activeBackend(), cores: cpus().length },
  init,
  pretrain: { preset: pre.preset, objectiveVersion: pre.objective.version ?? 1, model: pre.model, steps: readMetrics(join(init, 'metrics.jsonl')).at(-1)?.step ?? null },
  corpus: { path: corpus, buildSeconds: corpusSeconds, labels },
  finetune: {
    steps,
    lr,
    labelledUtterances: labelled,
    minutesBothInParallel: ftMinutes,
    pretrained: fr.pretrained.metrics,
    scratch: fr.scratch.metrics,
    finalLoss: { pretrained: fr.pretrained.losses.at(-1), scratch: fr.scratch.losses.at(-1) },
    confusion: { pretrained: join(runs.pretrained.out as string, 'confusion.png'), scratch: join(runs.scratch.out as string, 'confusion.png') },
  },
  probe: { ...probes, minutes: probeMinutes },
  overrides: sets,
};
writeFileSync(join(out, `results${tag}.json`), JSON.stringify(summary, null, 2) + '\n');
const test = fr.pretrained.metrics;
await barChartPng(join(out, `accuracy${tag}.png`), {
  title: `${labels} ID, ${test['classes']} classes, ${test['testUtterances']} unseen test sentences (chance ${(100 / test['classes']!).toFixed(1)}%)`,
  yLabel: 'test accuracy',
  bars: [
    { label: 'fine-tuned', value: acc(fr.pretrained.metrics), group: 'pretrained' },
    { label: 'fine-tuned', value: acc(fr.scratch.metrics), group: 'from scratch / random init' },
    { label: 'linear probe', value: acc(probes.pretrained), group: 'pretrained' },
    { label: 'linear probe', value: acc(probes.randomInit), group: 'from scratch / random init' },
  ],
});
const curve = (dir: string) => readMetrics(join(dir, 'metrics.jsonl')).filter((r) => typeof r['loss'] === 'number').map((r) => ({ x: r.step, y: r['loss'] as number }));
await lineChartPng(join(out, `finetune-loss${tag}.png`), {
  title: `Classification fine-tuning loss (${labels} ID, ${steps} updates)`,
  xLabel: 'update',
  yLabel: 'cross entropy',
  series: [
    { name: 'pretrained', points: curve(runs.pretrained.out as string) },
    { name: 'from scratch', points: curve(runs.scratch.out as string) },
  ],
});
console.log(JSON.stringify(summary, null, 2));
console.log(`plots: ${join(out, `accuracy${tag}.png`)}, ${join(out, `finetune-loss${tag}.png`)}, ${summary.finetune.confusion.pretrained}, ${summary.finetune.confusion.scratch}`);
process.exit(0);
