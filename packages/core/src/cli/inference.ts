/**
 * `d2v predict` and `d2v embed`: a trained run applied to files. They take no config options
 * (the run's own config.json says everything about the model), so they parse their own few
 * options; `--input` takes any number of paths.
 */
import { ConfigError } from '../errors.js';
import { suggestKey } from '../config/schema.js';
import { loadModel, EMBED_LAYERS, EMBED_POOLS, DEFAULT_INFERENCE_BATCH, type EmbedLayers, type EmbedPool } from '../inference/model.js';
import { checkEmbeddingsFile, predictionFormat, predictionsToJsonl, writeEmbeddings, writePredictions } from '../inference/outputs.js';

export type InferenceCommand = 'predict' | 'embed';
export const INFERENCE_COMMANDS: readonly InferenceCommand[] = ['predict', 'embed'];

/** Options of each command: name -> [takes a value?, help]. */
const COMMON: Record<string, [boolean, string]> = {
  init: [true, 'run folder (its latest checkpoint) or checkpoint folder to load'],
  input: [true, 'files or folders to read (several paths allowed): images, WAV files, text files (one text per line) or label<TAB>text TSVs, as the modality reads them'],
  'batch-size': [true, `inputs per batch (default ${DEFAULT_INFERENCE_BATCH})`],
  backend: [true, 'TensorFlow.js backend (default D2V_BACKEND, else wasm)'],
  modality: [true, "load the run's modality from this name or plugin path (default: the name in the run's config)"],
  help: [false, 'this help'],
};
const OPTIONS: Record<InferenceCommand, Record<string, [boolean, string]>> = {
  predict: {
    ...COMMON,
    output: [true, 'write the predictions to this .jsonl or .csv file (default: JSON Lines on stdout)'],
  },
  embed: {
    ...COMMON,
    out: [true, 'the .safetensors file to write (features, offsets for per-step features, input names in the metadata)'],
    pool: [true, `${EMBED_POOLS.join(' | ')}: one vector per input (mean over its steps) or every step's vector (default mean)`],
    layers: [true, `${EMBED_LAYERS.join(' | ')}: the last block's output, or data2vec's target recipe over the top K blocks (default last)`],
    'top-k': [true, "K for --layers topk (default the run's objective.topK)"],
    npy: [false, 'also write <out>.npy (+ <out>.offsets.npy) and <out>.inputs.json'],
  },
};

export interface InferenceArgs {
  values: Map<string, string[]>;
  flags: Set<string>;
}

/** `--key value`, `--key=value`, `--flag`; `--input` collects every following path. */
export function parseInferenceArgs(command: InferenceCommand, argv: readonly string[]): InferenceArgs {
  const spec = OPTIONS[command];
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (!tok.startsWith('--')) throw new ConfigError(`d2v ${command}: unexpected argument '${tok}' (options are written --key value)`);
    let key = tok.slice(2);
    let inline: string | undefined;
    const eq = key.indexOf('=');
    if (eq >= 0) {
      inline = key.slice(eq + 1);
      key = key.slice(0, eq);
    }
    if (key === 'h') key = 'help';
    const opt = spec[key];
    if (!opt) {
      const hint = suggestKey(key, Object.keys(spec));
      throw new ConfigError(`d2v ${command}: unknown option --${key}${hint ? ` (did you mean --${hint}?)` : ''}; options: ${Object.keys(spec).map((k) => `--${k}`).join(', ')}`, key);
    }
    if (!opt[0]) {
      if (inline !== undefined) throw new ConfigError(`d2v ${command}: --${key} is a flag and takes no value (got '${inline}')`, key);
      flags.add(key);
      continue;
    }
    const got = values.get(key) ?? [];
    if (inline !== undefined) got.push(inline);
    else {
      const multi = key === 'input';
      while (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) {
        got.push(argv[++i]!);
        if (!multi) break;
      }
    }
    if (got.length === 0) throw new ConfigError(`d2v ${command}: --${key} needs a value`, key);
    if (key !== 'input' && got.length > 1) throw new ConfigError(`d2v ${command}: --${key} given twice (${got.join(', ')})`, key);
    values.set(key, got);
  }
  return { values, flags };
}

export function inferenceHelp(command: InferenceCommand): string {
  const usage =
    command === 'predict'
      ? 'usage: d2v predict --init RUN --input PATH... [--output FILE.jsonl|FILE.csv] [--batch-size N]'
      : 'usage: d2v embed --init RUN --input PATH... --out FILE.safetensors [--pool mean|none] [--layers last|topk] [--top-k K] [--npy]';
  const lines = [usage, ''];
  for (const [k, [, h]] of Object.entries(OPTIONS[command])) lines.push(`  --${k.padEnd(12)} ${h}`);
  return lines.join('\n');
}

function positiveInt(command: string, key: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`d2v ${command}: --${key} expects a positive integer, got '${raw}'`, key);
  return n;
}

function choice<T extends string>(command: string, key: string, raw: string | undefined, choices: readonly T[]): T | undefined {
  if (raw === undefined) return undefined;
  if (!choices.includes(raw as T)) throw new ConfigError(`d2v ${command}: --${key} must be one of ${choices.join(', ')} (got '${raw}')`, key);
  return raw as T;
}

/** Runs `d2v predict|embed` with the arguments after the command; returns the exit code. */
export async function inferenceMain(command: InferenceCommand, argv: readonly string[]): Promise<number> {
  const { values, flags } = parseInferenceArgs(command, argv);
  const one = (k: string) => values.get(k)?.[0];
  if (flags.has('help')) {
    console.log(inferenceHelp(command));
    return 0;
  }
  const init = one('init');
  const inputs = values.get('input') ?? [];
  if (!init) {
    console.error(`d2v ${command}: --init RUN is required (a ${command === 'predict' ? 'fine-tuned' : 'pretrained or fine-tuned'} run folder or checkpoint folder)`);
    return 2;
  }
  if (inputs.length === 0) {
    console.error(`d2v ${command}: --input PATH... is required (files or folders to ${command})`);
    return 2;
  }
  const output = one('output');
  const out = one('out');
  // Output names are checked before the model loads, so a typo costs nothing.
  if (output) predictionFormat(output);
  if (command === 'embed') {
    if (!out) {
      console.error('d2v embed: --out FILE.safetensors is required');
      return 2;
    }
    checkEmbeddingsFile(out);
  }
  const batchSize = positiveInt(command, 'batch-size', one('batch-size'));
  const pool = choice<EmbedPool>(command, 'pool', one('pool'), EMBED_POOLS);
  const layers = choice<EmbedLayers>(command, 'layers', one('layers'), EMBED_LAYERS);
  const topK = positiveInt(command, 'top-k', one('top-k'));

  const log = (m: string) => console.error(m);
  const model = await loadModel(init, { modality: one('modality'), backend: one('backend'), log });
  try {
    const listed = model.inputsFrom(inputs);
    for (const s of listed.skipped) log(`d2v: skipped ${s.input}: ${s.reason}`);
    const progress = process.stderr;
    if (command === 'predict') {
      const p = await model.predict(listed.inputs, { batchSize, progress });
      const all = { ...p, skipped: [...listed.skipped, ...p.skipped] };
      if (output) {
        writePredictions(output, all);
        console.log(`predicted ${p.records.length} input(s) with the ${p.task} head${all.skipped.length ? `, skipped ${all.skipped.length}` : ''} -> ${output}`);
      } else if (all.records.length || all.skipped.length) {
        console.log(predictionsToJsonl(all).trimEnd());
      }
      if (p.records.length) return 0;
      console.error(`d2v predict: none of the ${inputs.length} input path(s) could be read`);
      return 1;
    }
    const e = await model.embed(listed.inputs, { batchSize, progress, pool, layers, topK });
    const all = { ...e, skipped: [...listed.skipped, ...e.skipped] };
    if (e.names.length === 0) {
      console.error(`d2v embed: none of the ${inputs.length} input path(s) could be read; nothing written`);
      return 1;
    }
    const files = writeEmbeddings(out!, all, { modality: model.modality.name, checkpoint: model.checkpoint, step: String(model.step) }, flags.has('npy'));
    const what = `${e.pool === 'none' ? 'per-step' : 'mean-pooled'} features of the ${e.layers === 'topk' ? `top ${e.topK} blocks (data2vec targets)` : 'last block'}`;
    console.log(`embedded ${e.names.length} input(s): ${what}, [${e.rows}, ${e.dim}]${all.skipped.length ? `; skipped ${all.skipped.length}` : ''} -> ${files.join(', ')}`);
    return 0;
  } finally {
    model.dispose();
  }
}
