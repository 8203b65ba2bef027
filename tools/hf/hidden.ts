/**
 * d2v's hidden states for an input, written for tools/hf/verify.py to compare with transformers'.
 * Loads --init (a d2v run or checkpoint folder, or a Hugging Face folder) as `d2v export` does,
 * reads the model input from --input (a safetensors file holding one tensor named as transformers
 * names it: pixel_values, input_values or input_ids) and writes to --out: `hidden.0` (the
 * Transformer's input), `hidden.1` .. `hidden.N` (every block's output) and `last` (after the final
 * norm, if any), as float32 safetensors.
 *
 *   npx tsx tools/hf/hidden.ts --init RUN_OR_HF_DIR --input input.safetensors --out hidden.safetensors
 *     [--modality NAME] [--key value ...]   (options only for a Hugging Face folder, e.g. --tokenizer.model FILE)
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync, writeFileSync } from 'node:fs';
import {
  ConfigError,
  D2vError,
  decodeSafetensors,
  hfMappingOf,
  hiddenStates,
  openCheckpoint,
  safetensorsToTensors,
  tensorsToSafetensors,
} from '@d2v/core';

async function main(argv: string[]): Promise<void> {
  const opts = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i]!;
    if (!k.startsWith('--') || argv[i + 1] === undefined) throw new ConfigError(`expected --key value pairs, got '${k}'`);
    opts.set(k.slice(2), argv[i + 1]!);
  }
  const take = (k: string) => {
    const v = opts.get(k);
    if (!v) throw new ConfigError(`--${k} is required (usage: tools/hf/hidden.ts --init DIR --input FILE --out FILE [--modality NAME])`, k);
    opts.delete(k);
    return v;
  };
  const [init, input, out] = [take('init'), take('input'), take('out')];
  const modality = opts.get('modality');
  opts.delete('modality');
  const { modality: m, config, parts } = await openCheckpoint(init, { modality, overrides: new Map(opts), log: (s) => console.error(s) });
  const mapping = hfMappingOf(m);
  const inputs = safetensorsToTensors(decodeSafetensors(readFileSync(input), input), input);
  const x = inputs[mapping.inputName];
  if (!x) throw new ConfigError(`${input} has no tensor ${mapping.inputName} (it has ${Object.keys(inputs).join(', ')})`, 'input');
  const batch = mapping.batchFromInput(x, config);
  const h = hiddenStates(parts.encoder, parts.transformer, batch);
  const named: Record<string, tf.Tensor> = { last: h.last };
  h.hidden.forEach((t, i) => (named[`hidden.${i}`] = t));
  writeFileSync(out, await tensorsToSafetensors(named, { modality: m.name }));
  console.error(`d2v: ${h.hidden.length} hidden states of ${m.name} [${h.last.shape}] -> ${out}`);
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err instanceof D2vError ? `hidden: ${err.name}: ${err.message}` : err);
  process.exitCode = 1;
});
