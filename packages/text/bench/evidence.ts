/**
 * Evidence for @d2v/text (a benchmark, not a test): pretrain the tiny preset for a time budget,
 * then on the held-out SpamAssassin test split compare
 *   - fine-tuning with 200 labels (100 ham + 100 spam): from the pretrained encoder vs from scratch;
 *   - a linear probe on frozen mean-pooled features (same 200 labels): pretrained vs random init,
 *     for the last block and (--probe-blocks) for every block.
 * Writes results.json, metrics.png, probe-blocks.png and the pretraining curves (pretrain/*.png) into --out.
 *   npx tsx packages/text/bench/evidence.ts [--minutes 15] [--labels 200] [--workers 1] [--out runs/text-evidence]
 *     [--corpus bundled|email|FILE.txt] (pre-training text: the bundled Moby Dick + State of the Union,
 *                              or unlabelled SpamAssassin e-mails without the test split, built into runs/text-email-corpus)
 *     [--set key=value ...]   (extra config overrides for every run, e.g. --set finetune.lr=3e-4)
 *     [--reuse-pretrain DIR]  (skip pretraining: fine-tune/probe from DIR/pretrain of an earlier evidence run,
 *                              copying its pretraining figures from DIR/results.json)
 *     [--probe-blocks] [--probes-only] (per-block probes; skip the fine-tuning)
 *     [--no-baseline]         (skip the from-scratch / random-init arms, e.g. when comparing pretrainings at a seed already run)
 *     [--steps N]             (pretraining updates instead of calibrating them to --minutes, to repeat an earlier run)
 *     [--split M]             (micro-batches per update; default workers + 1, so --workers 0 --split 2 repeats a
 *                              --workers 1 run's batches on one thread)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend, pretrain, finetune, evaluate, barChartPng, activeBackend, calibrateUpdateSeconds } from '@d2v/core';
import { modality, loadPackedCorpus, buildEmailCorpus, bundledSpamFiles } from '../src/index.js';

const args = process.argv.slice(2);
const arg = (k: string, d: string) => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 ? args[i + 1]! : d;
};
const sets: Record<string, string> = {};
args.forEach((a, i) => {
  if (a === '--set') {
    const [k, ...v] = args[i + 1]!.split('=');
    sets[k!] = v.join('=');
  }
});
const minutes = Number(arg('minutes', '15'));
const labels = Number(arg('labels', '200'));
const workers = Number(arg('workers', '1'));
const out = resolve(arg('out', 'runs/text-evidence'));
mkdirSync(out, { recursive: true });
const log = (m: string) => console.error(m);
const silent = { log: () => {}, plots: false, progressStream: { write: () => true, isTTY: false } as never };
await initBackend(arg('backend', 'wasm'));

// Pre-training corpus: the bundled one, in-domain unlabelled e-mail (test split left out), or a file.
const corpusArg = arg('corpus', 'bundled');
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
const reuse = arg('reuse-pretrain', '');

/** Pretrains the tiny preset for the time budget; returns its run folder and the figures for results.json. */
async function pretrainForBudget() {
  // Pretraining uses both cores: the preset's batch split into one micro-batch per thread.
  const batch = modality.presets['tiny']!['train'] as { batchSize: number };
  const split = Number(arg('split', String(workers + 1)));
  const par = split > 1 || workers > 0 ? { 'train.workers': workers, 'optim.accumulate': split, 'train.batchSize': Math.round(batch.batchSize / split) } : {};
  let steps = Number(arg('steps', '0'));
  if (steps > 0) {
    log(`evidence: ${steps} pretraining updates (--steps; ${batch.batchSize} blocks in ${split} micro-batch(es), ${workers} worker thread(s)) on ${activeBackend()}`);
  } else {
    // Calibrate the update time so the run fits the budget with a schedule (lr, EMA) that completes.
    const stepSec = (await calibrateUpdateSeconds({ modality: 'text', out: join(out, 'calibration'), overrides: { ...preBase, ...par } })) * 1.03;
    steps = Math.max(20, Math.floor((minutes * 60) / stepSec));
    log(`evidence: ${stepSec.toFixed(2)} s/update (${batch.batchSize} blocks, ${workers} worker thread(s)) on ${activeBackend()} -> ${steps} pretraining updates for ${minutes} min`);
  }

  const pre = join(out, 'pretrain');
  const t0 = performance.now();
  const pr = await pretrain({
    modality: 'text',
    log,
    overrides: {
      ...preBase,
      ...par,
      out: pre,
      'train.steps': steps,
      'train.checkpointEvery': Math.max(50, Math.floor(steps / 4)),
      'optim.warmupSteps': Math.max(5, Math.floor(steps * 0.1)),
      'objective.emaAnnealSteps': steps,
    },
  });
  const pretrainSec = (performance.now() - t0) / 1000;
  const { blocks } = await loadPackedCorpus(pr.config, 'train');
  const blockSize = blocks.blockSize;
  const realFraction = 1 - blocks.stats.paddingFraction;
  const c = pr.config;
  const summary = {
    corpus: corpusArg,
    corpusFiles: pr.config['data'],
    minutes: pretrainSec / 60,
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
    hyperparameters: { lr: c.optim.lr, schedule: c.optim.schedule, ema: [c.objective.emaStart, c.objective.emaEnd, c.objective.emaAnnealSteps], topK: c.objective.topK, masking: c['masking'] },
  };
  return { pre, summary };
}

const { pre, summary: pretrainSummary } = reuse
  ? { pre: join(resolve(reuse), 'pretrain'), summary: { ...JSON.parse(readFileSync(join(resolve(reuse), 'results.json'), 'utf8')).pretrain, reusedFrom: resolve(reuse) } }
  : await pretrainForBudget();
const pretrainMinutes = pretrainSummary.minutes as number;

const ft = { ...base, 'finetune.labels': labels, 'probe.labels': labels };
const probesOnly = args.includes('--probes-only');
const baseline = !args.includes('--no-baseline');
const ftPre = probesOnly ? null : await finetune({ modality, log, overrides: { ...ft, out: join(out, 'finetune-pretrained'), 'finetune.init': pre } });
const ftScratch = probesOnly || !baseline ? null : await finetune({ modality, log, overrides: { ...ft, out: join(out, 'finetune-scratch') } });
const probePre = await evaluate({ modality, log, task: 'probe', overrides: { ...ft, out: join(out, 'probe-pretrained'), 'finetune.init': pre } });
const probeRand = baseline ? await evaluate({ modality, log, task: 'probe', overrides: { ...ft, out: join(out, 'probe-random') } }) : null;

// Per-block probes: which representation pretraining improved (0 = embeddings, depth = last block).
const depth = (pretrainSummary.model as { depth: number }).depth;
const perBlock: { block: number; pretrained: number; random: number | null }[] = [];
if (args.includes('--probe-blocks') || probesOnly) {
  for (let block = 0; block <= depth; block++) {
    const o = { ...ft, 'probe.block': block };
    const p = await evaluate({ modality, ...silent, task: 'probe', overrides: { ...o, out: join(out, `probe-block${block}-pretrained`), 'finetune.init': pre } });
    const r = baseline ? await evaluate({ modality, ...silent, task: 'probe', overrides: { ...o, out: join(out, `probe-block${block}-random`) } }) : null;
    perBlock.push({ block, pretrained: p['accuracy']!, random: r ? r['accuracy']! : null });
    log(`evidence: probe on ${block === 0 ? 'the embeddings' : `block ${block}`}: pretrained ${(100 * p['accuracy']!).toFixed(1)}%${r ? `, random ${(100 * r['accuracy']!).toFixed(1)}%` : ''}`);
  }
  const name = (b: number) => (b === 0 ? 'embeddings' : `block ${b}`);
  await barChartPng(join(out, 'probe-blocks.png'), {
    title: `Linear probe accuracy per block (mean-pooled, ${labels} labels, SpamAssassin test split)`,
    yLabel: 'accuracy',
    bars: perBlock.flatMap((b) => [
      { label: name(b.block), value: b.pretrained, group: 'pretrained' },
      ...(b.random === null ? [] : [{ label: name(b.block), value: b.random, group: 'random init' }]),
    ]),
  });
}

const results = {
  machine: { backend: activeBackend(), cores: cpus().length },
  overrides: sets,
  pretrain: pretrainSummary,
  finetune:
    ftPre
      ? {
          labels,
          steps: ftPre.config.train.steps,
          lr: ftPre.config.optim.lr,
          maxTokens: (ftPre.config['finetune'] as { maxTokens: number }).maxTokens,
          pretrained: ftPre.metrics,
          scratch: ftScratch?.metrics ?? null,
        }
      : null,
  linearProbe: { labels, pretrained: probePre, random: probeRand, perBlock },
};
writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 2) + '\n');
const bar = (label: string, pre: number | undefined, rand: number | undefined) => [
  ...(pre === undefined ? [] : [{ label, value: pre, group: 'pretrained' }]),
  ...(rand === undefined ? [] : [{ label, value: rand, group: 'from scratch / random' }]),
];
await barChartPng(join(out, 'metrics.png'), {
  title: `SpamAssassin test split, ${labels} labels: fine-tuning (FT) and linear probe (tiny text model, ${pretrainMinutes.toFixed(0)} min ${pretrainSummary.objective === 'mlm' ? 'MLM' : 'data2vec'} pretraining)`,
  yLabel: 'score',
  bars: [
    ...bar('FT accuracy', ftPre?.metrics['accuracy'], ftScratch?.metrics['accuracy']),
    ...bar('FT macro F1', ftPre?.metrics['macroF1'], ftScratch?.metrics['macroF1']),
    ...bar('probe accuracy', probePre['accuracy'], probeRand?.['accuracy']),
  ],
});
console.log(JSON.stringify(results, null, 2));
console.log(`plots: ${join(out, 'metrics.png')}, ${join(pre, 'loss.png')}`);
process.exit(0);
