/**
 * MLM control for the text evidence (a benchmark): pretrains the same student as an earlier
 * data2vec evidence run, with that run's resolved config (corpus, model, optimiser, updates,
 * batches, masks), but with a masked-language-model objective; one thread unless --workers N
 * (gradient worker threads, each update's micro-batches unchanged).
 * Writes OUT/pretrain (checkpoints, curves) and OUT/results.json, so that
 *   npx tsx bench/evidence.ts --reuse-pretrain OUT ...
 * fine-tunes and probes it exactly as the data2vec run.
 *   npx tsx packages/text/bench/mlm-baseline.ts --like runs/text-evidence-email-28 --out runs/text-mlm-28
 *     [--steps N] (default: the data2vec run's) [--keep N] (checkpoints kept, for probe curves)
 *     [--workers N] (default 0) [--set key=value ...] (config overrides on top of the data2vec run's, e.g. --set optim.lr=1.5e-3)
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { prepareRun, resolveStoredConfig, trainTask, activeBackend } from '@d2v/core';
import { scriptArgs } from '@d2v/core/bench';
import { createMlmTask, MLM_REPLICA, loadPackedCorpus, modality as text, BOS_ID, EOS_ID, PAD_ID } from '../src/index.js';

const args = scriptArgs({
  usage: "npx tsx packages/text/bench/mlm-baseline.ts: the MLM control of a data2vec text evidence run (--like), on that run's config",
  values: { like: 'runs/text-evidence-email-28', out: 'runs/text-mlm', steps: undefined, keep: '2', workers: '0' },
  sets: ['set'],
});
const like = resolve(args.values.like);
const out = resolve(args.values.out);
const log = (m: string) => console.error(m);
const d2vConfig = join(like, 'pretrain', 'config.json');
const d2v = JSON.parse(readFileSync(d2vConfig, 'utf8'));
const steps = args.values.steps === undefined ? Number(d2v.train.steps) : args.number('steps');
const keep = args.number('keep');
const workers = args.number('workers');
const sets = args.sets.set;

const prepared = await prepareRun({
  modality: 'text',
  configFile: d2vConfig,
  // Micro-batches stay those of the data2vec run (optim.accumulate, train.batchSize); workers only spread them over threads.
  overrides: { ...sets, out: join(out, 'pretrain'), resume: false, 'train.workers': workers, 'train.steps': steps, 'train.keepLast': keep, 'train.checkpointEvery': Math.max(10, Math.floor(steps / keep)) },
  log,
});
// The resolved config read through the text schema, typed.
const config = resolveStoredConfig(text, prepared.config, d2vConfig, log);
const task = await createMlmTask({ config });
log(`mlm-baseline: ${task.describe()}; ${steps} updates on ${activeBackend()}, config of ${d2vConfig}`);
const t0 = performance.now();
const r = await trainTask(task, { config, log, label: 'pretrain text (MLM)', replica: MLM_REPLICA });
const minutes = (performance.now() - t0) / 60000;
task.dispose();

const { blocks } = await loadPackedCorpus(config, 'train');
// The loss of a model that ignores context and predicts token frequencies: the MLM "unigram plateau".
const counts = new Map<number, number>();
let real = 0;
for (const id of blocks.tokens) {
  if (id === BOS_ID || id === EOS_ID || id === PAD_ID) continue;
  counts.set(id, (counts.get(id) ?? 0) + 1);
  real++;
}
let unigramEntropy = 0;
let topTokenShare = 0;
for (const c of counts.values()) {
  unigramEntropy -= (c / real) * Math.log(c / real);
  topTokenShare = Math.max(topTokenShare, c / real);
}
const tail = r.losses.slice(-Math.min(50, r.losses.length));
const tokensPerUpdate = config.train.batchSize * config.optim.accumulate * blocks.blockSize;
const pretrain = {
  objective: 'mlm',
  like,
  overrides: sets,
  corpusFiles: config.data,
  minutes,
  steps,
  blocksPerUpdate: config.train.batchSize * config.optim.accumulate,
  blockSize: blocks.blockSize,
  workers,
  tokensPerSecond: r.itemsPerSecond * blocks.blockSize,
  tokensSeen: steps * tokensPerUpdate * (1 - blocks.stats.paddingFraction),
  secondsPerStep: r.secondsPerStep,
  firstLoss: r.losses[0],
  lastLoss: r.losses.at(-1),
  meanLossLast50: tail.reduce((a, b) => a + b, 0) / tail.length,
  unigramEntropy,
  topTokenShare,
  model: config.model,
};
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'results.json'), JSON.stringify({ pretrain }, null, 2) + '\n');
console.log(JSON.stringify(pretrain, null, 2));
process.exit(0);
