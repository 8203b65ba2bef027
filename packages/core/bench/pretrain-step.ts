/**
 * `npm run bench`: pretraining-step throughput of a modality's tiny preset on each backend
 * (and worker count) asked for; JSON + markdown table. Not a test.
 *   npx tsx packages/core/bench/pretrain-step.ts --modality vision [--backends wasm,cpu] [--workers 0,1]
 *     [--steps 5] [--warmup 2] [--set key=value ...] [--out runs/bench]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { benchPretrainStep, benchTable, initBackend, registeredBackends, type StepBenchResult } from '../src/index.js';

const args = process.argv.slice(2);
const arg = (k: string, d: string) => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 ? args[i + 1]! : d;
};
const sets: Record<string, unknown> = {};
args.forEach((a, i) => {
  if (a === '--set') {
    const [k, v] = args[i + 1]!.split('=');
    sets[k!] = v;
  }
});
const modality = arg('modality', 'vision');
const backends = arg('backends', 'wasm,cpu,tensorflow').split(',');
const workers = arg('workers', '0,1').split(',').map(Number);
const out = resolve(arg('out', `runs/bench/${modality.replace(/[^a-z0-9-]/gi, '_')}`));
const rows: StepBenchResult[] = [];
for (const backend of backends) {
  try {
    await initBackend(backend);
  } catch (err) {
    console.error(`skip backend ${backend}: ${(err as Error).message.split('\n')[0]}`);
    continue;
  }
  for (const w of workers) {
    // Workers split each update's micro-batches: keep the samples per update equal across rows.
    const accumulate = Math.max(2, Number(sets['optim.accumulate'] ?? 2));
    const overrides = { backend, 'train.workers': w, 'optim.accumulate': accumulate, ...sets };
    if (sets['train.batchSize'] === undefined) overrides['train.batchSize'] = undefined as never;
    const clean = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
    console.error(`bench ${modality} on ${backend}, ${w} worker(s)...`);
    rows.push(await benchPretrainStep({ modality, overrides: clean, steps: Number(arg('steps', '5')), warmup: Number(arg('warmup', '2')) }));
  }
}
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'bench.json'), JSON.stringify({ date: new Date().toISOString(), backendsAvailable: registeredBackends(), rows }, null, 2) + '\n');
const table = benchTable(rows);
writeFileSync(join(out, 'bench.md'), table + '\n');
console.log(table);
console.log(`\nwritten: ${join(out, 'bench.json')}, ${join(out, 'bench.md')}`);
process.exit(0);
