/**
 * Draws the accuracy-vs-minutes curves of several evidence runs made with --marks on one chart (a
 * benchmark helper): fine-tuning and linear probe of each arm, with the from-scratch / random-init
 * levels of the first run as dashed lines.
 *   npx tsx packages/text/bench/marks-chart.ts --out runs/text-v1-v2.png --arm "1.0=runs/text-v1-s1" --arm "2.0=runs/text-v2-s1"
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { lineChartPng, type LineSeries } from '@d2v/core';

const args = process.argv.slice(2);
const out = resolve(args[args.indexOf('--out') + 1] ?? 'runs/text-marks.png');
interface Mark { minutes: number; finetune: number | null; probe: number }
const arms = args.flatMap((a, i) => (a === '--arm' ? [args[i + 1]!.split('=') as [string, string]] : []));
if (arms.length === 0) throw new Error('give at least one --arm "NAME=EVIDENCE_DIR" (a run made with --marks)');
const runs = arms.map(([name, dir]) => ({ name, r: JSON.parse(readFileSync(join(resolve(dir), 'results.json'), 'utf8')) }));
for (const { name, r } of runs) if (!(r.marks?.length > 1)) throw new Error(`${name}: results.json has no marks (evidence.ts --marks)`);
const xMax = Math.max(...runs.flatMap(({ r }) => (r.marks as Mark[]).map((m) => m.minutes)));
const flat = (name: string, y: number): LineSeries => ({ name, points: [{ x: 0, y }, { x: xMax, y }], dashed: true, strokeWidth: 1.5 });
const first = runs[0]!.r;
const series: LineSeries[] = [
  ...runs.flatMap(({ name, r }) => [
    { name: `${name} FT`, points: (r.marks as Mark[]).filter((m) => m.finetune !== null).map((m) => ({ x: m.minutes, y: m.finetune! })) },
    { name: `${name} probe`, points: (r.marks as Mark[]).map((m) => ({ x: m.minutes, y: m.probe })) },
  ]),
  ...(first.finetune?.scratch ? [flat('scratch FT', first.finetune.scratch.accuracy)] : []),
  ...(first.linearProbe?.random ? [flat('random probe', first.linearProbe.random.accuracy)] : []),
];
await lineChartPng(out, {
  title: `SpamAssassin test accuracy vs pretraining minutes (${first.finetune?.labels ?? first.linearProbe?.labels} labels)`,
  xLabel: 'minutes of pretraining (calibrated update time x updates)',
  yLabel: 'test accuracy',
  series,
});
console.log(`wrote ${out}`);
