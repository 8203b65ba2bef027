/**
 * Evidence for @d2v/text (a benchmark, not a test): pretrain a preset (--preset: `tiny` = data2vec 1.0,
 * `tiny-v2` = data2vec 2.0, same model) for a time budget, then on the held-out SpamAssassin test split compare
 *   - fine-tuning with 200 labels (100 ham + 100 spam): from the pretrained encoder vs from scratch;
 *   - a linear probe on frozen mean-pooled features (same 200 labels): pretrained vs random init,
 *     for the last block and (--probe-blocks) for every block.
 * Every run (calibration, pretraining, fine-tuning, probes, baselines) uses the --preset's config.
 * Writes results.json, metrics.png, probe-blocks.png and the pretraining curves (pretrain/*.png) into --out.
 *   npx tsx packages/text/bench/evidence.ts [--preset tiny] [--minutes 15] [--labels 200] [--workers 1] [--out runs/text-evidence]
 *     [--corpus bundled|email|FILE.txt] (pre-training text: the bundled Moby Dick + State of the Union,
 *                              or unlabelled SpamAssassin e-mails without the test split, built into runs/text-email-corpus)
 *     [--set key=value ...]   (extra config overrides for every run, e.g. --set finetune.lr=3e-4)
 *     [--reuse-pretrain DIR]  (skip pretraining: fine-tune/probe from DIR/pretrain of an earlier evidence run,
 *                              copying its pretraining figures from DIR/results.json; same --preset)
 *     [--probe-blocks] [--probes-only] (per-block probes; skip the fine-tuning)
 *     [--no-baseline]         (skip the from-scratch / random-init arms, e.g. when comparing pretrainings at a seed already run)
 *     [--steps N]             (pretraining updates instead of calibrating them to --minutes, to repeat an earlier run)
 *     [--marks]               (also fine-tune and probe the checkpoints at 1/3 and 2/3 of the pretraining updates:
 *                              an accuracy-vs-minutes curve, marks.png; minutes = the mark's share of --minutes)
 *     [--calibrated S]        (with --steps: seconds per update calibrated earlier on a quiet machine; the marks'
 *                              minutes are then updates x S, not the wall time of a run that shared the CPU)
 *     [--split M]             (micro-batches per update; default workers + 1, so --workers 0 --split 2 repeats a
 *                              --workers 1 run's batches on one thread)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend, pretrain, finetune, evaluate, barChartPng, lineChartPng, activeBackend, resolveConfig, resolveStoredConfig, CheckpointManager, ConfigError } from '@d2v/core';
import { calibrateUpdateSeconds, scriptArgs } from '@d2v/core/bench';
import { modality, loadPackedCorpus, buildEmailCorpus, bundledSpamFiles } from '../src/index.js';

const args = scriptArgs({
  usage: 'npx tsx packages/text/bench/evidence.ts: pretrain a preset for a time budget, then fine-tune and probe it against scratch / random init (the comment at the top of the file explains every option)',
  values: { preset: 'tiny', minutes: '15', labels: '200', workers: '1', out: 'runs/text-evidence', backend: 'wasm', corpus: 'bundled', 'reuse-pretrain': '', split: undefined, steps: '0', calibrated: '0' },
  switches: ['marks', 'probes-only', 'no-baseline', 'probe-blocks'],
  sets: ['set'],
});
const sets = args.sets.set;
const preset = args.values.preset;
if (!(preset in modality.presets)) throw new ConfigError(`--preset: text has no preset '${preset}'; presets: ${Object.keys(modality.presets).join(', ')}`, 'preset');
const minutes = args.number('minutes');
const labels = args.number('labels');
const workers = args.number('workers');
const out = resolve(args.values.out);
mkdirSync(out, { recursive: true });
const log = (m: string) => console.error(m);

/** A config core resolved (a run's, or its stored config.json) read through the text schema, typed; options renamed since are read under their new names. */
const textConfig = (c: Record<string, unknown>, where: string) => resolveStoredConfig(modality, c, where, log);
const silent = { log: () => {}, plots: false, progressStream: { write: () => true, isTTY: false } as never };
await initBackend(args.values.backend);

// Pre-training corpus: the bundled one, in-domain unlabelled e-mail (test split left out), or a file.
const corpusArg = args.values.corpus;
const corpus: Record<string, string> = {};
if (corpusArg === 'email') {
  const dir = resolve(out, '..', 'text-email-corpus');
  if (!existsSync(join(dir, 'train.txt'))) {
    const r = buildEmailCorpus({ out: dir, exclude: [bundledSpamFiles().test] });
    log(`evidence: wrote ${r.trainDocuments} unlabelled e-mails (${(r.bytes / 1e6).toFixed(2)} MB) to ${r.train}; ${r.excluded} test-split texts left out`);
  }
  Object.assign(corpus, { 'data.path': join(dir, 'train.txt'), 'data.validPath': join(dir, 'valid.txt'), 'data.layout': 'line' });
} else if (corpusArg !== 'bundled') {
  Object.assign(corpus, { 'data.path': resolve(corpusArg) });
}
const base = { ...sets };
const preBase = { ...corpus, ...sets };
const reuse = args.values['reuse-pretrain'];
const withMarks = args.switches.marks;

/** Pretrains the --preset for the time budget; returns its run folder and the figures for results.json. */
async function pretrainForBudget() {
  // data2vec version of the pretraining (its resolved config: --set may change it).
  const version = resolveConfig({ modality: 'text', modalitySchema: modality.schema, presets: modality.presets, preset, overrides: new Map(Object.entries(preBase)) }).objective.version ?? 1;
  // Pretraining uses both cores: the preset's batch split into one micro-batch per thread.
  const batch = modality.presets[preset]!['train'] as { batchSize: number };
  const split = args.values.split === undefined ? workers + 1 : args.number('split');
  const par = split > 1 || workers > 0 ? { 'train.workers': workers, 'optim.accumulate': split, 'train.batchSize': Math.round(batch.batchSize / split) } : {};
  let steps = args.number('steps');
  let calibrated = args.number('calibrated') || null;
  if (steps > 0) {
    log(`evidence: ${preset} (data2vec ${version}.0): ${steps} pretraining updates (--steps; ${batch.batchSize} blocks in ${split} micro-batch(es), ${workers} worker thread(s)) on ${activeBackend()}`);
  } else {
    // Calibrate the update time so the run fits the budget with a schedule (lr, EMA) that completes.
    const stepSec = (await calibrateUpdateSeconds({ modality: 'text', preset, out: join(out, 'calibration'), overrides: { ...preBase, ...par } })) * 1.03;
    calibrated = stepSec;
    steps = Math.max(20, Math.floor((minutes * 60) / stepSec));
    log(`evidence: ${preset} (data2vec ${version}.0): ${stepSec.toFixed(2)} s/update (${batch.batchSize} blocks, ${workers} worker thread(s)) on ${activeBackend()} -> ${steps} pretraining updates for ${minutes} min`);
  }

  const pre = join(out, 'pretrain');
  const t0 = performance.now();
  const pr = await pretrain({
    modality: 'text',
    preset,
    log,
    overrides: {
      ...preBase,
      ...par,
      out: pre,
      'train.steps': steps,
      // --marks: checkpoints at 1/3 and 2/3 of the updates (and the last), all kept.
      ...(withMarks ? { 'train.checkpointEvery': Math.ceil(steps / 3), 'train.keepLast': 4 } : { 'train.checkpointEvery': Math.max(50, Math.floor(steps / 4)) }),
      // Schedule lengths tied to the step count: data2vec 1.0 and 2.0 alike; no other objective overrides.
      'optim.warmupSteps': Math.max(5, Math.floor(steps * 0.1)),
      'objective.emaAnnealSteps': steps,
    },
  });
  const pretrainSec = (performance.now() - t0) / 1000;
  const c = textConfig(pr.config, pre);
  const { blocks } = await loadPackedCorpus(c, 'train');
  const blockSize = blocks.blockSize;
  const realFraction = 1 - blocks.stats.paddingFraction;
  const summary = {
    preset,
    objectiveVersion: c.objective.version ?? 1,
    clones: c.objective.clones ?? 1,
    corpus: corpusArg,
    corpusFiles: c.data,
    minutes: pretrainSec / 60,
    calibratedSecondsPerUpdate: calibrated,
    steps,
    blocksPerUpdate: c.train.batchSize * c.optim.accumulate,
    blockSize,
    workers,
    tokensPerSecond: pr.itemsPerSecond * blockSize,
    realTokensPerSecond: pr.itemsPerSecond * blockSize * realFraction,
    tokensSeen: steps * c.train.batchSize * c.optim.accumulate * blockSize * realFraction,
    corpusTokens: blocks.stats.tokens,
    secondsPerStep: pr.secondsPerStep,
    firstLoss: pr.losses[0],
    lastLoss: pr.losses.at(-1),
    model: c.model,
    hyperparameters: { lr: c.optim.lr, schedule: c.optim.schedule, ema: [c.objective.emaStart, c.objective.emaEnd, c.objective.emaAnnealSteps], topK: c.objective.topK, masking: c.masking },
  };
  return { pre, summary };
}

/** An earlier run's pretraining figures; preset, objective version and clones from its config when its results.json predates them. */
function reusedPretrain(dir: string) {
  // Untyped, as before: an evidence run's or an MLM control's figures (bench/mlm-baseline.ts).
  const earlier = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')).pretrain;
  const cfgFile = join(dir, 'pretrain', 'config.json');
  // An MLM control (bench/mlm-baseline.ts) has no data2vec preset of its own to check or record.
  if (earlier['objective'] === 'mlm' || !existsSync(cfgFile)) return { ...earlier, reusedFrom: dir };
  const cfg = textConfig(JSON.parse(readFileSync(cfgFile, 'utf8')), cfgFile);
  if (cfg.preset !== preset) throw new ConfigError(`--reuse-pretrain: ${dir}/pretrain was pretrained with preset '${cfg.preset}', not '${preset}'; pass --preset ${cfg.preset}`, 'preset');
  return { preset: cfg.preset, objectiveVersion: cfg.objective.version ?? 1, clones: cfg.objective.clones ?? 1, ...earlier, reusedFrom: dir };
}

const { pre, summary: pretrainSummary } = reuse
  ? { pre: join(resolve(reuse), 'pretrain'), summary: reusedPretrain(resolve(reuse)) }
  : await pretrainForBudget();
// The budget's minutes: calibrated update time x updates when known (a run sharing the CPU takes longer).
const calibratedSec = (pretrainSummary as { calibratedSecondsPerUpdate?: number | null }).calibratedSecondsPerUpdate;
const pretrainMinutes = calibratedSec ? (calibratedSec * (pretrainSummary.steps as number)) / 60 : (pretrainSummary.minutes as number);

const ft = { ...base, 'finetune.labels': labels, 'probe.labels': labels };
const probesOnly = args.switches['probes-only'];
const baseline = !args.switches['no-baseline'];
const ftPre = probesOnly ? null : await finetune({ modality, preset, log, overrides: { ...ft, out: join(out, 'finetune-pretrained'), 'finetune.init': pre } });
const ftScratch = probesOnly || !baseline ? null : await finetune({ modality, preset, log, overrides: { ...ft, out: join(out, 'finetune-scratch') } });
const probePre = await evaluate({ modality, preset, log, task: 'probe', overrides: { ...ft, out: join(out, 'probe-pretrained'), 'finetune.init': pre } });
const probeRand = baseline ? await evaluate({ modality, preset, log, task: 'probe', overrides: { ...ft, out: join(out, 'probe-random') } }) : null;

// --marks: the same fine-tuning and probe from the earlier checkpoints (the last one is the result above).
const markResults: { step: number; minutes: number; finetune: number | null; probe: number }[] = [];
if (withMarks) {
  const total = pretrainSummary.steps as number;
  const earlier = new CheckpointManager(pre, { keepLast: 1 }).list().filter((c) => c.step < total);
  if (earlier.length === 0) log(`evidence: --marks: ${pre} holds no checkpoint before update ${total} (pretrained without --marks?)`);
  for (const c of earlier) {
    const tag = `step${c.step}`;
    const f = probesOnly ? null : await finetune({ modality, preset, ...silent, overrides: { ...ft, out: join(out, `finetune-pretrained-${tag}`), 'finetune.init': c.dir } });
    const p = await evaluate({ modality, preset, ...silent, task: 'probe', overrides: { ...ft, out: join(out, `probe-pretrained-${tag}`), 'finetune.init': c.dir } });
    markResults.push({ step: c.step, minutes: (c.step / total) * pretrainMinutes, finetune: f ? f.metrics['accuracy']! : null, probe: p['accuracy']! });
    log(`evidence: mark at update ${c.step} (~${((c.step / total) * pretrainMinutes).toFixed(1)} min): fine-tune ${f ? (100 * f.metrics['accuracy']!).toFixed(1) + '%' : '-'}, probe ${(100 * p['accuracy']!).toFixed(1)}%`);
  }
  markResults.push({ step: total, minutes: pretrainMinutes, finetune: ftPre ? ftPre.metrics['accuracy']! : null, probe: probePre['accuracy']! });
}

// Per-block probes: which representation pretraining improved (0 = embeddings, depth = last block).
const depth = (pretrainSummary.model as { depth: number }).depth;
const perBlock: { block: number; pretrained: number; random: number | null }[] = [];
if (args.switches['probe-blocks'] || probesOnly) {
  for (let block = 0; block <= depth; block++) {
    const o = { ...ft, 'probe.block': block };
    const p = await evaluate({ modality, preset, ...silent, task: 'probe', overrides: { ...o, out: join(out, `probe-block${block}-pretrained`), 'finetune.init': pre } });
    const r = baseline ? await evaluate({ modality, preset, ...silent, task: 'probe', overrides: { ...o, out: join(out, `probe-block${block}-random`) } }) : null;
    perBlock.push({ block, pretrained: p['accuracy']!, random: r ? r['accuracy']! : null });
    log(`evidence: probe on ${block === 0 ? 'the embeddings' : `block ${block}`}: pretrained ${(100 * p['accuracy']!).toFixed(1)}%${r ? `, random ${(100 * r['accuracy']!).toFixed(1)}%` : ''}`);
  }
  const name = (b: number) => (b === 0 ? 'embeddings' : `block ${b}`);
  await barChartPng(join(out, 'probe-blocks.png'), {
    title: `Linear probe accuracy per block (${preset}, mean-pooled, ${labels} labels, SpamAssassin test split)`,
    yLabel: 'accuracy',
    bars: perBlock.flatMap((b) => [
      { label: name(b.block), value: b.pretrained, group: 'pretrained' },
      ...(b.random === null ? [] : [{ label: name(b.block), value: b.random, group: 'random init' }]),
    ]),
  });
}

const results = {
  machine: { backend: activeBackend(), cores: cpus().length },
  preset,
  overrides: sets,
  pretrain: pretrainSummary,
  finetune:
    ftPre
      ? {
          labels,
          steps: ftPre.config.train.steps,
          lr: ftPre.config.optim.lr,
          maxTokens: textConfig(ftPre.config, join(out, 'finetune-pretrained')).finetune.maxTokens,
          pretrained: ftPre.metrics,
          scratch: ftScratch?.metrics ?? null,
        }
      : null,
  linearProbe: { labels, pretrained: probePre, random: probeRand, perBlock },
  marks: markResults,
};
writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2) + '\n');
const bar = (label: string, pre: number | undefined, rand: number | undefined) => [
  ...(pre === undefined ? [] : [{ label, value: pre, group: 'pretrained' }]),
  ...(rand === undefined ? [] : [{ label, value: rand, group: 'from scratch / random' }]),
];
await barChartPng(join(out, 'metrics.png'), {
  title: `SpamAssassin test split, ${labels} labels: fine-tuning (FT) and linear probe (${preset} text model, ${pretrainMinutes.toFixed(0)} min ${pretrainSummary.objective === 'mlm' ? 'MLM' : 'data2vec'} pretraining)`,
  yLabel: 'score',
  bars: [
    ...bar('FT accuracy', ftPre?.metrics['accuracy'], ftScratch?.metrics['accuracy']),
    ...bar('FT macro F1', ftPre?.metrics['macroF1'], ftScratch?.metrics['macroF1']),
    ...bar('probe accuracy', probePre['accuracy'], probeRand?.['accuracy']),
  ],
});
if (markResults.length > 1) {
  const xMax = markResults.at(-1)!.minutes;
  const flat = (name: string, y: number) => ({ name, points: [{ x: 0, y }, { x: xMax, y }], dashed: true, strokeWidth: 1.5 });
  await lineChartPng(join(out, 'marks.png'), {
    title: `SpamAssassin test accuracy vs pretraining time (${preset}, ${labels} labels)`,
    xLabel: 'minutes of data2vec pretraining',
    yLabel: 'test accuracy',
    series: [
      ...(ftPre ? [{ name: 'fine-tune', points: markResults.map((m) => ({ x: m.minutes, y: m.finetune! })) }] : []),
      { name: 'linear probe', points: markResults.map((m) => ({ x: m.minutes, y: m.probe })) },
      ...(ftScratch ? [flat('fine-tune from scratch', ftScratch.metrics['accuracy']!)] : []),
      ...(probeRand ? [flat('probe, random init', probeRand['accuracy']!)] : []),
    ],
  });
}
console.log(JSON.stringify(results, null, 2));
console.log(`plots: ${join(out, 'metrics.png')}, ${join(pre, 'loss.png')}`);
process.exit(0);
