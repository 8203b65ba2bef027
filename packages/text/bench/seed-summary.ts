/**
 * Averages evidence runs over seeds (a benchmark helper): each --arm names a group of evidence
 * output folders (one per seed) and which of their results to read; prints a markdown table
 * (mean, standard deviation, per seed) and draws a bar chart of the means (error bars: standard deviation over seeds).
 *   npx tsx packages/text/bench/seed-summary.ts --out runs/text-seeds.png \
 *     --arm "data2vec:probe=runs/a-s1,runs/a-s2" --arm "random:probe-baseline=runs/a-s1,runs/a-s2" \
 *     --arm "data2vec:ft=runs/b-s1,runs/b-s2" --arm "scratch:ft-baseline=runs/b-s1,runs/b-s2"
 * Result kinds: probe | probe-baseline (linear probe, pretrained | random init), ft | ft-baseline
 * (fine-tuning accuracy, pretrained | from scratch). A bar's label is the text after ':' without
 * '-baseline' plus the optional '@LABEL' suffix of the kind (e.g. ft@mean-pool).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { barChartPng } from '@d2v/core';

const args = process.argv.slice(2);
const out = resolve(args[args.indexOf('--out') + 1] ?? 'runs/text-seed-summary.png');
const title = args.includes('--title') ? args[args.indexOf('--title') + 1]! : 'SpamAssassin test accuracy, mean over seeds';

interface Row {
  group: string;
  label: string;
  values: number[];
}
const rows: Row[] = [];
args.forEach((a, i) => {
  if (a !== '--arm') return;
  const [head, dirs] = args[i + 1]!.split('=');
  const [group, kindSpec] = head!.split(':');
  const [kind, suffix] = kindSpec!.split('@');
  const values = dirs!.split(',').map((d) => {
    const r = JSON.parse(readFileSync(resolve(d, 'results.json'), 'utf8'));
    const pick: Record<string, () => number | undefined> = {
      probe: () => r.linearProbe?.pretrained?.accuracy,
      'probe-baseline': () => r.linearProbe?.random?.accuracy,
      ft: () => r.finetune?.pretrained?.accuracy,
      'ft-baseline': () => r.finetune?.scratch?.accuracy,
    };
    const v = pick[kind!]?.();
    if (typeof v !== 'number') throw new Error(`seed-summary: ${d}/results.json has no '${kind}' result`);
    return v;
  });
  const base = kind!.startsWith('probe') ? 'linear probe' : 'fine-tune';
  rows.push({ group: group!, label: suffix ? `${base} (${suffix})` : base, values });
});
if (!rows.length) throw new Error('seed-summary: give at least one --arm GROUP:KIND=DIR[,DIR...]');

const pct = (x: number) => (100 * x).toFixed(1);
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
const sd = (v: number[]) => (v.length > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mean(v)) ** 2, 0) / (v.length - 1)) : 0);
console.log('| result | arm | seeds | mean | sd | per seed |\n|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.label} | ${r.group} | ${r.values.length} | ${pct(mean(r.values))}% | ${pct(sd(r.values))} | ${r.values.map(pct).join(', ')} |`);
}
await barChartPng(out, {
  title,
  yLabel: 'accuracy',
  bars: rows.map((r) => ({ label: r.label, group: r.group, value: mean(r.values), error: sd(r.values) })),
});
console.log(`plot: ${out}`);
