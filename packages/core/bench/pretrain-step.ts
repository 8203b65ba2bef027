/**
 * `npm run bench`: pretraining-step throughput of a modality's tiny preset on each backend
 * (and worker count) asked for; JSON + markdown table. Not a test.
 *   npx tsx packages/core/bench/pretrain-step.ts --modality vision [--preset tiny-v2] [--backends wasm,cpu] [--workers 0,1]
 *     [--steps 5] [--warmup 2] [--set key=value ...] [--no-profile] [--out runs/bench]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initBackend, prepareRun, registeredBackends } from '../src/index.js';
import { benchPretrainStep, benchTable, profilePretrainStep, profileTable, scriptArgs, type StepBenchResult, type StepProfile } from '../src/bench.js';

const args = scriptArgs({
  usage: "npx tsx packages/core/bench/pretrain-step.ts: pretraining-step throughput of a modality's preset per backend and worker count, and a kernel profile of one update",
  values: { modality: 'vision', preset: undefined, backends: 'wasm,cpu,tensorflow', workers: '0,1', steps: '5', warmup: '2', out: undefined },
  switches: ['no-profile'],
  sets: ['set'],
});
const sets: Record<string, unknown> = args.sets.set;
const modality = args.values.modality;
const preset = args.values.preset;
const backends = args.values.backends.split(',');
const workers = args.values.workers.split(',').map(Number);
const out = resolve(args.values.out ?? `runs/bench/${modality.replace(/[^a-z0-9-]/gi, '_')}${preset ? `-${preset}` : ''}`);
const rows: StepBenchResult[] = [];
const profiles: StepProfile[] = [];
// A kernel-by-kernel profile of one single-threaded update per backend (--no-profile to skip).
const profile = !args.switches['no-profile'];
for (const backend of backends) {
  try {
    await initBackend(backend);
  } catch (err) {
    console.error(`skip backend ${backend}: ${(err as Error).message.split('\n')[0]}`);
    continue;
  }
  for (const w of workers) {
    // Every row trains on the same samples per update (the preset's train.batchSize, or --set
    // train.batchSize): split into one micro-batch per thread when worker threads are used.
    const scratch = mkdtempSync(join(tmpdir(), 'd2v-bench-cfg-'));
    const { modality: m, config } = await prepareRun({ modality, preset, overrides: { backend, out: scratch } });
    rmSync(scratch, { recursive: true, force: true });
    const perUpdate = Number(sets['train.batchSize'] ?? config.train.batchSize) * Number(sets['optim.accumulate'] ?? 1);
    const threads = w + 1;
    if (perUpdate % threads) throw new Error(`${perUpdate} samples per update do not split over ${threads} threads`);
    const overrides = { ...sets, backend, 'train.workers': w, 'optim.accumulate': threads, 'train.batchSize': perUpdate / threads };
    console.error(`bench ${m.name} on ${backend}, ${w} worker(s), ${perUpdate} samples per update...`);
    rows.push(await benchPretrainStep({ modality, preset, overrides, steps: args.number('steps'), warmup: args.number('warmup') }));
    if (w === 0 && profile) {
      const p = await profilePretrainStep({ modality, preset, overrides: { ...sets, backend, 'train.batchSize': perUpdate } });
      profiles.push(p);
      console.error(profileTable(p));
    }
  }
}
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'bench.json'), JSON.stringify({ date: new Date().toISOString(), backendsAvailable: registeredBackends(), rows, profiles }, null, 2) + '\n');
const table = [benchTable(rows), ...profiles.map((p) => profileTable(p))].join('\n\n');
writeFileSync(join(out, 'bench.md'), table + '\n');
console.log(table);
console.log(`\nwritten: ${join(out, 'bench.json')}, ${join(out, 'bench.md')}`);
process.exit(0);
