/** --help text: every option with its effective default and the paper value. */
import { defaultsOf, describeRange, flattenSchema, flattenTree, getPath, type Schema } from '../config/schema.js';
import { META_OPTIONS, ALIASES } from './args.js';

const fmt = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? v.join(',') : String(v));

export function helpText(command: string, modalityName: string | undefined, schema: Schema, presets?: Readonly<Record<string, object>>, preset?: string): string {
  const lines: string[] = [];
  lines.push(`usage: d2v ${command} --modality NAME [--preset P] [--config file.json] [--key value ...]`, '');
  lines.push('commands: pretrain | finetune | eval | info | predict | embed | export (d2v predict --help, d2v export --help)', '');
  lines.push('run options:');
  for (const [k, h] of Object.entries(META_OPTIONS)) lines.push(`  --${k.padEnd(30)} ${h}`);
  lines.push('', `aliases: ${Object.entries(ALIASES).map(([a, k]) => `--${a} = --${k}`).join(', ')}`, '');
  if (presets) {
    // Which data2vec each preset trains: objective.version 2 is data2vec 2.0.
    const version = (name: string) => (flattenTree(presets[name]!).get('objective.version') === 2 ? '2.0' : '1.0');
    const names = Object.keys(presets).map((n) => `${n} (data2vec ${version(n)}${n === preset ? ', chosen' : ''})`);
    lines.push(`presets: ${names.join(', ')}`, '');
  }
  const flat = flattenSchema(schema);
  const chosen = presets && preset ? flattenTree(presets[preset] ?? {}) : new Map<string, unknown>();
  const paper = presets?.['paper-base'] ? flattenTree(presets['paper-base']) : new Map<string, unknown>();
  const defaults = defaultsOf(schema);
  lines.push(`config options${modalityName ? ` (${modalityName}${preset ? `, preset ${preset}` : ''})` : ''}: default [paper-base value]`);
  let section = '';
  for (const [key, spec] of flat) {
    const top = key.includes('.') ? key.split('.')[0]! : '';
    if (top !== section) {
      section = top;
      if (top) lines.push(`  ${top}:`);
    }
    const def = chosen.has(key) ? chosen.get(key) : getPath(defaults, key);
    const pv = paper.has(key) ? paper.get(key) : getPath(defaults, key);
    const choices = spec.choices ? ` {${spec.choices.join('|')}}` : '';
    const paperNote = presets?.['paper-base'] && fmt(pv) !== fmt(def) ? ` [paper ${fmt(pv)}]` : '';
    const range = spec.range ? `, must be ${describeRange(spec.range)}` : '';
    lines.push(`    --${key.padEnd(34)} ${spec.help}${choices} (default ${fmt(def)})${paperNote}${range}`);
  }
  return lines.join('\n');
}
