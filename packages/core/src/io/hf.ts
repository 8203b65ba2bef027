/**
 * Hugging Face transformers checkpoints in and out: a folder holding `config.json` and
 * `model.safetensors` that `Data2VecVisionModel` / `Data2VecAudioModel` / `Data2VecTextModel`
 * `.from_pretrained(dir)` loads, and that d2v reads back with `--init dir`.
 *
 * Each modality declares how its options and weights are named and laid out there (an `HfMapping`:
 * a table of config keys and a table of weights); this file holds what every modality shares: the
 * layout transforms (d2v's [in, out] linears vs PyTorch's [out, in], a fused qkv vs separate
 * query/key/value, convolutions as matrices vs [out, in, kernel]), the refusal of options the other
 * side cannot express, and reading and writing the folder.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError, ConfigError } from '../errors.js';
import { getPath } from '../config/schema.js';
import { writeDirAtomic } from './atomic.js';
import { decodeSafetensors, safetensorsToTensors, tensorsToSafetensors } from './safetensors.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { TransformerConfig } from '../nn/transformer.js';
import type { Transformer } from '../nn/transformer.js';
import type { Batch, FeatureEncoder } from '../registry/modality.js';

/** How one d2v tensor is stored in the Hugging Face checkpoint. */
export type HfLayout =
  /** Same values; the HF shape may add leading 1s (`hfRank`), e.g. a [C] mask embedding stored [1, 1, C]. */
  | { kind: 'copy'; hfRank?: number }
  /** d2v x @ W with W [in, out]; PyTorch's nn.Linear stores [out, in]. */
  | { kind: 'linear' }
  /**
   * d2v's fused projection (qkv: weight [in, k*out] or bias [k*out]) is k HF tensors (`hf` lists
   * them; weights are transposed). A null name is a part HF does not have: it is dropped on export
   * and zero on import (a key bias, which softmax ignores: it adds the same q.b to every key).
   */
  | { kind: 'split' }
  /** A convolution as a matrix: d2v [prod(kernel) * in, out] (rows tap-major, then channel) = HF [out, in, ...kernel]. */
  | { kind: 'conv'; kernel: number[] }
  /** A grouped 1-D convolution: d2v [groups, kernel * in/groups, out/groups] = HF [out, in/groups, kernel]. */
  | { kind: 'groupedConv'; kernel: number }
  /** d2v's table [R, C] = HF rows offset .. offset + R - 1; the rows in front are zero on export (e.g. RoBERTa's positions start after the padding id). */
  | { kind: 'rows'; offset: number };

export interface HfWeight {
  /** d2v name inside the student: `encoder.*` or `transformer.*`. */
  d2v: string;
  /** HF name(s) without the model prefix; several for `split`. */
  hf: string | (string | null)[];
  /** Default `{ kind: 'copy' }`. */
  layout?: HfLayout;
  /**
   * An HF tensor whose first row HF adds to every step (RoBERTa's token type 0): folded into this
   * d2v tensor on import, written as one row of zeros on export.
   */
  plus?: string;
  /** Absent from some HF checkpoints (e.g. a mask token): import then keeps d2v's initial value. */
  optional?: boolean;
}

/** One entry of an `HfMapping`'s config table (`C`: the modality's config, whose option names `d2v` must be). */
export interface HfConfigKey<C extends ResolvedConfig = ResolvedConfig> {
  /** HF config.json key; omitted for a d2v value HF implies (e.g. model.norm 'pre'). */
  hf?: string;
  /** d2v config key (dotted). */
  d2v?: string;
  /**
   * With `d2v` and no `hf`: the value HF implies (export refuses any other, import sets it).
   * With `hf` and no `d2v`: the HF value d2v implies (export writes it, import refuses any other unless `lenient`).
   */
  value?: unknown;
  /** [d2v value, HF value] pairs, for options spelt differently (e.g. positions 'learned' <-> use_absolute_position_embeddings true). */
  values?: [unknown, unknown][];
  /** HF value = d2v value + offset. */
  offset?: number;
  /** HF value derived from the run (e.g. the tokenizer's vocabulary size); import compares it, naming `d2v` as what to change. */
  derive?: (config: C) => unknown;
  /** Export only: a value computed from several d2v keys (training options). */
  exportValue?: (config: C) => unknown;
  /** A training option: exported for training on in PyTorch, never applied on import (the run's own config decides). */
  training?: boolean;
  /** Import accepts any HF value (the option does not change the encoder's outputs or is handled by `optional` weights). */
  lenient?: boolean;
  /** HF's default for a config.json that omits the key. */
  hfDefault?: unknown;
  /** Export only: the d2v values HF can express, when not a fixed list (e.g. at least one positional conv layer). */
  accepts?: (value: unknown) => boolean;
  /** Why HF cannot express other values (ends refusal messages). */
  why?: string;
}

/** How a modality's encoder + Transformer map to one Hugging Face model class (`C`: its config, `B`: its batch). */
export interface HfMapping<C extends ResolvedConfig = ResolvedConfig, B extends Batch = Batch> {
  /** config.json `model_type`, e.g. 'data2vec-vision'. */
  modelType: string;
  /** The transformers class, e.g. 'Data2VecVisionModel' (config.json `architectures`). */
  architecture: string;
  /** The class's base_model_prefix: weights of a model with a head (ForCTC, ForImageClassification) start with `prefix.`. */
  prefix: string;
  /** The model's main input as transformers names it (pixel_values, input_values, input_ids). */
  inputName: string;
  config: HfConfigKey<C>[];
  /** Every encoder and Transformer weight of a model built from `config`. */
  weights(config: C): HfWeight[];
  /** A batch holding an input in HF's layout (e.g. pixel_values [B, C, H, W]), for comparing hidden states. */
  batchFromInput(input: tf.Tensor, config: C): B;
}

/** A mapping of any modality: what core's import and export code takes (the modality's types are erased there). */
export type AnyHfMapping = HfMapping<any, any>;

/** HF names of one Transformer block's parts, relative to the block (`{i}` in `layer` is the block index). */
export interface HfBlockNames {
  /** e.g. 'encoder.layer.{i}' */
  layer: string;
  query: string;
  key: string;
  value: string;
  /** HF's key projection has no bias (BEiT): d2v's key bias is dropped on export (softmax ignores it). */
  keyHasNoBias?: boolean;
  /** Attention output projection. */
  out: string;
  /** d2v norm1: before attention (pre-LN) or after its residual (post-LN). */
  norm1: string;
  fc1: string;
  fc2: string;
  norm2: string;
  /** Layer scale parameters, when HF has them. */
  ls1?: string;
  ls2?: string;
}

/** Config keys of the Transformer that every HF data2vec class spells the same way. */
export const HF_TRANSFORMER_KEYS: HfConfigKey[] = [
  { hf: 'hidden_size', d2v: 'model.dim' },
  { hf: 'num_hidden_layers', d2v: 'model.depth' },
  { hf: 'num_attention_heads', d2v: 'model.heads' },
  { hf: 'intermediate_size', d2v: 'model.ffnDim' },
  { hf: 'hidden_act', value: 'gelu', why: "d2v's FFN uses exact (erf) GELU" },
  { hf: 'layer_norm_eps', value: 1e-5, lenient: true, why: "d2v's LayerNorms use eps 1e-5" },
];

/** The block layout of HF's post-LN data2vec classes (audio, text): BERT-style layers, no final norm, no layer scale. */
export const HF_POST_LN_KEYS: HfConfigKey[] = [
  { d2v: 'model.norm', value: 'post', why: 'its layers normalise after each residual add (post-LN)' },
  { d2v: 'model.finalNorm', value: false, why: 'it has no LayerNorm after the last layer' },
  { d2v: 'model.layerScale', value: 0, why: 'it has no layer scale' },
];

/** The weight and bias of a d2v Linear as an HF nn.Linear. */
export function hfLinear(d2v: string, hf: string): HfWeight[] {
  return [
    { d2v: `${d2v}.weight`, hf: `${hf}.weight`, layout: { kind: 'linear' } },
    { d2v: `${d2v}.bias`, hf: `${hf}.bias` },
  ];
}

/** The weight and bias of a d2v LayerNorm as an HF nn.LayerNorm. */
export function hfLayerNorm(d2v: string, hf: string): HfWeight[] {
  return [
    { d2v: `${d2v}.weight`, hf: `${hf}.weight` },
    { d2v: `${d2v}.bias`, hf: `${hf}.bias` },
  ];
}

/** Every weight of d2v's Transformer blocks (`transformer.blocks.i.*`) under HF's block names. */
export function hfTransformerWeights(model: Pick<TransformerConfig, 'depth' | 'layerScale'>, names: HfBlockNames): HfWeight[] {
  const out: HfWeight[] = [];
  for (let i = 0; i < model.depth; i++) {
    const b = `transformer.blocks.${i}`;
    const h = (part: string) => `${names.layer.replace('{i}', String(i))}.${part}`;
    out.push(
      { d2v: `${b}.attn.qkv.weight`, hf: [h(`${names.query}.weight`), h(`${names.key}.weight`), h(`${names.value}.weight`)], layout: { kind: 'split' } },
      { d2v: `${b}.attn.qkv.bias`, hf: [h(`${names.query}.bias`), names.keyHasNoBias ? null : h(`${names.key}.bias`), h(`${names.value}.bias`)], layout: { kind: 'split' } },
      ...hfLinear(`${b}.attn.proj`, h(names.out)),
      ...hfLayerNorm(`${b}.norm1`, h(names.norm1)),
      ...hfLinear(`${b}.fc1`, h(names.fc1)),
      ...hfLinear(`${b}.fc2`, h(names.fc2)),
      ...hfLayerNorm(`${b}.norm2`, h(names.norm2)),
    );
    if (model.layerScale > 0) {
      if (!names.ls1 || !names.ls2) throw new ConfigError(`model.layerScale ${model.layerScale}: this Hugging Face model has no layer scale`, 'model.layerScale');
      out.push({ d2v: `${b}.ls1`, hf: h(names.ls1) }, { d2v: `${b}.ls2`, hf: h(names.ls2) });
    }
  }
  return out;
}

const show = (v: unknown) => JSON.stringify(v);
const sameValue = (a: unknown, b: unknown) => show(a) === show(b);
const hfNames = (w: HfWeight): (string | null)[] => (Array.isArray(w.hf) ? w.hf : [w.hf]);

function d2vValue(config: ResolvedConfig, key: string): unknown {
  return getPath(config, key);
}

/**
 * config.json for `config`, or a ConfigError naming the first d2v option the HF class cannot
 * express (its key, its value and why).
 */
export function hfConfigFor(mapping: AnyHfMapping, config: ResolvedConfig): Record<string, unknown> {
  const refuse = (key: string, value: unknown, expected: string, why?: string): never => {
    throw new ConfigError(
      `Hugging Face ${mapping.architecture} cannot express ${key} = ${show(value)} (it needs ${expected})${why ? `: ${why}` : ''}`,
      key,
    );
  };
  const out: Record<string, unknown> = { architectures: [mapping.architecture], model_type: mapping.modelType };
  for (const k of mapping.config) {
    const v = k.d2v !== undefined ? d2vValue(config, k.d2v) : undefined;
    if (k.d2v !== undefined && k.accepts && !k.accepts(v)) refuse(k.d2v, v, 'another value', k.why);
    if (k.hf === undefined) {
      if (k.d2v !== undefined && !sameValue(v, k.value)) refuse(k.d2v, v, show(k.value), k.why);
      continue;
    }
    let hv: unknown;
    if (k.exportValue) hv = k.exportValue(config);
    else if (k.derive) hv = k.derive(config);
    else if (k.d2v === undefined) hv = k.value;
    else if (k.values) {
      const pair = k.values.find(([d]) => sameValue(d, v));
      if (!pair) refuse(k.d2v, v, `one of ${k.values.map(([d]) => show(d)).join(', ')}`, k.why);
      hv = pair![1];
    } else hv = k.offset !== undefined ? (v as number) + k.offset : v;
    out[k.hf] = hv;
  }
  out['dtype'] = 'float32';
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export interface HfImportedConfig {
  /** d2v options that define the encoder's architecture, dotted keys -> values. */
  overrides: Map<string, unknown>;
  /** Accepted differences worth a log line (e.g. another LayerNorm eps). */
  notes: string[];
}

/**
 * The d2v architecture options an HF config.json implies; a CheckpointError names the file and the
 * first HF option d2v cannot express. Training options (dropouts) are not taken: the run's config
 * decides them.
 */
export function d2vOptionsFromHf(mapping: AnyHfMapping, hf: Record<string, unknown>, file: string): HfImportedConfig {
  if (hf['model_type'] !== mapping.modelType) {
    throw new CheckpointError(file, `model_type is ${show(hf['model_type'])}; this modality reads ${show(mapping.modelType)} (${mapping.architecture}): check --modality`);
  }
  const refuse = (key: string, value: unknown, expected: string, why?: string): never => {
    throw new CheckpointError(file, `${key} = ${show(value)} cannot be expressed in d2v (it needs ${expected})${why ? `: ${why}` : ''}`);
  };
  const overrides = new Map<string, unknown>();
  const from = new Map<string, string>();
  const notes: string[] = [];
  const set = (k: HfConfigKey, value: unknown, hfValue: unknown) => {
    const d2v = k.d2v!;
    const source = k.hf !== undefined ? `${k.hf} = ${show(hfValue)}` : `${mapping.architecture} itself`;
    if (k.accepts && !k.accepts(value)) refuse(k.hf ?? mapping.architecture, hfValue, 'another value', k.why);
    if (overrides.has(d2v) && !sameValue(overrides.get(d2v), value)) {
      throw new CheckpointError(file, `${from.get(d2v)} together with ${source} cannot be expressed in d2v (they imply ${d2v} ${show(overrides.get(d2v))} and ${show(value)})`);
    }
    overrides.set(d2v, value);
    from.set(d2v, source);
  };
  for (const k of mapping.config) {
    if (k.hf === undefined) {
      if (k.d2v !== undefined) set(k, k.value, k.value);
      continue;
    }
    if (k.training || k.exportValue || k.derive) continue;
    const present = Object.hasOwn(hf, k.hf);
    if (!present && k.hfDefault === undefined) {
      if (k.d2v === undefined) continue; // a fixed HF value a config.json may leave out
      throw new CheckpointError(file, `config.json lacks ${k.hf} (d2v's ${k.d2v})`);
    }
    const hv = present ? hf[k.hf] : k.hfDefault;
    if (k.d2v === undefined) {
      if (sameValue(hv, k.value)) continue;
      if (!k.lenient) refuse(k.hf, hv, show(k.value), k.why);
      if (k.why) notes.push(`${k.hf} is ${show(hv)}, d2v uses ${show(k.value)} (${k.why})`);
      continue;
    }
    if (k.values) {
      const pair = k.values.find(([, h]) => sameValue(h, hv));
      if (!pair) refuse(k.hf, hv, `one of ${k.values.map(([, h]) => show(h)).join(', ')}`, k.why);
      set(k, pair![0], hv);
    } else if (k.offset !== undefined) {
      if (typeof hv !== 'number' || !Number.isInteger(hv)) refuse(k.hf, hv, 'an integer', k.why);
      set(k, (hv as number) - k.offset, hv);
    } else set(k, hv, hv);
  }
  return { overrides, notes };
}

/**
 * Checks the HF options a run derives itself (e.g. the vocabulary size from its tokenizer) against
 * config.json, naming the d2v option to change.
 */
export function checkDerivedHfOptions(mapping: AnyHfMapping, hf: Record<string, unknown>, config: ResolvedConfig, file: string): void {
  for (const k of mapping.config) {
    if (!k.derive || k.hf === undefined || !Object.hasOwn(hf, k.hf)) continue;
    const mine = k.derive(config);
    if (!sameValue(mine, hf[k.hf])) {
      throw new ConfigError(`${file}: ${k.hf} is ${show(hf[k.hf])} but this run's ${k.d2v ?? 'config'} gives ${show(mine)}${k.why ? ` (${k.why})` : ''}`, k.d2v);
    }
  }
}

/** HF shape of a d2v tensor of shape `shape` stored with `layout` (one part of a split). */
function hfShape(layout: HfLayout, shape: readonly number[], parts = 1): number[] {
  switch (layout.kind) {
    case 'copy':
      return [...Array<number>(Math.max(0, (layout.hfRank ?? shape.length) - shape.length)).fill(1), ...shape];
    case 'linear':
      return [shape[1]!, shape[0]!];
    case 'split':
      return shape.length === 2 ? [shape[1]! / parts, shape[0]!] : [shape[0]! / parts];
    case 'conv': {
      const taps = layout.kernel.reduce((a, b) => a * b, 1);
      return [shape[1]!, shape[0]! / taps, ...layout.kernel];
    }
    case 'groupedConv':
      return [shape[0]! * shape[2]!, shape[1]! / layout.kernel, layout.kernel];
    case 'rows':
      return [shape[0]! + layout.offset, ...shape.slice(1)];
  }
}

/** The d2v tensor as its HF tensor(s), in `hf` order (null parts dropped). */
function toHfParts(layout: HfLayout, x: tf.Tensor, parts: number): tf.Tensor[] {
  return tf.tidy(() => {
    switch (layout.kind) {
      case 'copy':
        return [tf.reshape(x, hfShape(layout, x.shape))];
      case 'linear':
        return [tf.transpose(x)];
      case 'split':
        return x.rank === 2 ? tf.split(x, parts, 1).map((p) => tf.transpose(p)) : tf.split(x, parts, 0);
      case 'conv': {
        const [rows, out] = x.shape as [number, number];
        const r = layout.kernel.length;
        const cin = rows / layout.kernel.reduce((a, b) => a * b, 1);
        const perm = [r + 1, r, ...layout.kernel.map((_, i) => i)];
        return [tf.transpose(tf.reshape(x, [...layout.kernel, cin, out]), perm)];
      }
      case 'groupedConv': {
        const [g, rows, co] = x.shape as [number, number, number];
        const k = layout.kernel;
        return [tf.reshape(tf.transpose(tf.reshape(x, [g, k, rows / k, co]), [0, 3, 2, 1]), [g * co, rows / k, k])];
      }
      case 'rows':
        return [tf.concat([tf.zeros([layout.offset, ...x.shape.slice(1)]), x], 0)];
    }
  });
}

/** The d2v tensor of shape `shape` from its HF tensor(s). */
function fromHfParts(layout: HfLayout, hf: tf.Tensor[], shape: readonly number[]): tf.Tensor {
  return tf.tidy(() => {
    switch (layout.kind) {
      case 'copy':
        return tf.reshape(hf[0]!, [...shape]);
      case 'linear':
        return tf.transpose(hf[0]!);
      case 'split':
        return shape.length === 2 ? tf.concat(hf.map((p) => tf.transpose(p)), 1) : tf.concat(hf, 0);
      case 'conv': {
        const perm = [...layout.kernel.map((_, i) => i + 2), 1, 0];
        return tf.reshape(tf.transpose(hf[0]!, perm), [...shape]);
      }
      case 'groupedConv': {
        const [g, rows, co] = shape as [number, number, number];
        const k = layout.kernel;
        return tf.reshape(tf.transpose(tf.reshape(hf[0]!, [g, co, rows / k, k]), [0, 3, 2, 1]), [g, rows, co]);
      }
      case 'rows':
        return tf.slice(hf[0]!, [layout.offset, ...shape.slice(1).map(() => 0)], [...shape]);
    }
  });
}

function checkCoverage(mapping: AnyHfMapping, weights: HfWeight[], d2vNames: Iterable<string>): void {
  const declared = new Set(weights.map((w) => w.d2v));
  const missing = [...d2vNames].filter((n) => !declared.has(n));
  // A programming error in the modality's table, not a user error: every weight must have a place in HF.
  if (missing.length) throw new ConfigError(`the ${mapping.modelType} mapping does not place ${missing.join(', ')} in the Hugging Face checkpoint`);
}

/**
 * HF tensors (names without the model prefix) for d2v's `encoder.*` + `transformer.*` weights of
 * a model built from `config`. The caller owns (and disposes) the returned tensors.
 */
export function hfTensorsFor(mapping: AnyHfMapping, config: ResolvedConfig, d2v: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  const weights = mapping.weights(config);
  checkCoverage(mapping, weights, Object.keys(d2v));
  const out: Record<string, tf.Tensor> = {};
  try {
    for (const w of weights) {
      const x = d2v[w.d2v];
      if (!x) throw new ConfigError(`the ${mapping.modelType} mapping names ${w.d2v}, which the model built from this config does not have`);
      const layout = w.layout ?? { kind: 'copy' };
      const names = hfNames(w);
      const parts = toHfParts(layout, x, names.length);
      names.forEach((n, i) => {
        if (n === null) parts[i]!.dispose();
        else out[n] = parts[i]!;
      });
      if (w.plus) out[w.plus] = tf.zeros([1, x.shape[x.rank - 1]!]);
    }
  } catch (err) {
    tf.dispose(Object.values(out));
    throw err;
  }
  return out;
}

export interface HfImportedWeights {
  /** d2v name -> tensor for every weight HF had (owned by the caller). */
  tensors: Record<string, tf.Tensor>;
  /** `optional` d2v weights HF did not have (the model keeps its initial values). */
  absent: string[];
  /** HF tensors that are not part of the encoder (a pooler, a task head), left unused. */
  unused: string[];
}

/**
 * d2v weights from HF tensors for a model whose parameters have the shapes in `shapes` (d2v name ->
 * shape). HF names may carry the model prefix (a checkpoint of a model with a head). A tensor of
 * the wrong shape, or a missing one, is a CheckpointError naming it.
 */
export function d2vTensorsFromHf(
  mapping: AnyHfMapping,
  config: ResolvedConfig,
  hf: Record<string, tf.Tensor>,
  shapes: Map<string, readonly number[]>,
  file: string,
): HfImportedWeights {
  const weights = mapping.weights(config);
  checkCoverage(mapping, weights, shapes.keys());
  const prefix = `${mapping.prefix}.`;
  const byName = new Map(Object.entries(hf).map(([n, t]) => [n.startsWith(prefix) ? n.slice(prefix.length) : n, t]));
  const used = new Set<string>();
  const get = (name: string, shape: number[], w: HfWeight): tf.Tensor => {
    const t = byName.get(name);
    if (!t) throw new CheckpointError(file, `has no tensor ${name} (d2v's ${w.d2v})`);
    if (!tf.util.arraysEqual(t.shape, shape)) {
      throw new CheckpointError(file, `tensor ${name} has shape [${t.shape}] but this config needs [${shape}] (d2v's ${w.d2v} is [${shapes.get(w.d2v)}])`);
    }
    used.add(name);
    return t;
  };
  const tensors: Record<string, tf.Tensor> = {};
  const absent: string[] = [];
  try {
    for (const w of weights) {
      const shape = shapes.get(w.d2v);
      if (!shape) throw new ConfigError(`the ${mapping.modelType} mapping names ${w.d2v}, which the model built from this config does not have`);
      const layout = w.layout ?? { kind: 'copy' };
      const names = hfNames(w);
      const present = names.filter((n): n is string => n !== null);
      if (w.optional && present.every((n) => !byName.has(n))) {
        absent.push(w.d2v);
        continue;
      }
      const partShape = hfShape(layout, shape, names.length);
      const parts = names.map((n) => (n === null ? tf.zeros(partShape) : get(n, partShape, w)));
      let x = fromHfParts(layout, parts, shape);
      names.forEach((n, i) => n === null && parts[i]!.dispose());
      if (w.plus) {
        const extra = byName.get(w.plus);
        if (extra) {
          if (extra.rank !== 2 || extra.shape[1] !== shape[shape.length - 1]) throw new CheckpointError(file, `tensor ${w.plus} has shape [${extra.shape}], expected [rows, ${shape[shape.length - 1]}]`);
          used.add(w.plus);
          const sum = tf.tidy(() => tf.add(x, tf.slice(extra, [0, 0], [1, -1])));
          x.dispose();
          x = sum;
        }
      }
      tensors[w.d2v] = x;
    }
  } catch (err) {
    tf.dispose(Object.values(tensors));
    throw err;
  }
  const unused = [...byName.keys()].filter((n) => !used.has(n)).sort();
  return { tensors, absent, unused };
}

export const HF_CONFIG_FILE = 'config.json';
export const HF_WEIGHTS_FILE = 'model.safetensors';
const HF_INDEX_FILE = 'model.safetensors.index.json';

/** True when `dir` is a Hugging Face model folder (a config.json naming a model_type or architectures). */
export function isHfCheckpoint(dir: string): boolean {
  const file = join(dir, HF_CONFIG_FILE);
  if (!existsSync(file) || existsSync(join(dir, 'manifest.json'))) return false;
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    return c !== null && typeof c === 'object' && (typeof c['model_type'] === 'string' || Array.isArray(c['architectures']));
  } catch {
    return false;
  }
}

/** config.json of an HF folder. */
export function readHfConfig(dir: string): Record<string, unknown> {
  const file = join(dir, HF_CONFIG_FILE);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CheckpointError(file, `is not readable JSON (${(err as Error).message.split('\n')[0]})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CheckpointError(file, 'is not a JSON object');
  return parsed as Record<string, unknown>;
}

/** Every tensor of an HF folder: model.safetensors, or the shards a model.safetensors.index.json lists. The caller owns them. */
export function readHfTensors(dir: string): Record<string, tf.Tensor> {
  const index = join(dir, HF_INDEX_FILE);
  let files: string[];
  if (existsSync(join(dir, HF_WEIGHTS_FILE))) files = [HF_WEIGHTS_FILE];
  else if (existsSync(index)) {
    let map: unknown;
    try {
      map = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: unknown }).weight_map;
    } catch (err) {
      throw new CheckpointError(index, `is not readable JSON (${(err as Error).message.split('\n')[0]})`);
    }
    if (map === null || typeof map !== 'object') throw new CheckpointError(index, 'has no weight_map');
    files = [...new Set(Object.values(map as Record<string, string>))].sort();
  } else {
    const others = readdirSync(dir).filter((f) => /\.(bin|pt|pth|h5|msgpack)$/.test(f));
    throw new CheckpointError(
      join(dir, HF_WEIGHTS_FILE),
      `is missing${others.length ? ` (the folder has ${others.join(', ')}: d2v reads safetensors only; in Python, model.save_pretrained(dir) writes them)` : ''}`,
    );
  }
  const out: Record<string, tf.Tensor> = {};
  try {
    for (const f of files) {
      const path = join(dir, f);
      if (!existsSync(path)) throw new CheckpointError(path, 'is missing (listed in model.safetensors.index.json)');
      Object.assign(out, safetensorsToTensors(decodeSafetensors(readFileSync(path), path), path));
    }
  } catch (err) {
    tf.dispose(Object.values(out));
    throw err;
  }
  return out;
}

/** Files an export writes; an existing --out holding anything else is refused, so nothing is overwritten by accident. */
const EXPORT_FILES = new Set([HF_CONFIG_FILE, HF_WEIGHTS_FILE]);

/** Writes config.json + model.safetensors into `dir` atomically (a folder of a previous export is replaced). */
export async function writeHfCheckpoint(dir: string, config: Record<string, unknown>, tensors: Record<string, tf.Tensor>): Promise<void> {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new CheckpointError(dir, 'exists and is not a folder');
    const foreign = readdirSync(dir).filter((f) => !EXPORT_FILES.has(f));
    if (foreign.length) {
      throw new CheckpointError(dir, `already holds ${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', ...' : ''}; export into a new or empty folder`);
    }
  }
  const bytes = await tensorsToSafetensors(tensors, { format: 'pt' }, join(dir, HF_WEIGHTS_FILE));
  await writeDirAtomic(dir, (tmp) => {
    writeFileSync(join(tmp, HF_WEIGHTS_FILE), bytes);
    writeFileSync(join(tmp, HF_CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
  });
}

export interface HiddenStates {
  /** The Transformer's input, then every block's output (HF's `hidden_states`). */
  hidden: tf.Tensor3D[];
  /** The last block's output after the final norm, if any (HF's `last_hidden_state`). */
  last: tf.Tensor3D;
}

/** Hidden states of `batch` without masking or dropout, as transformers reports them. The caller disposes them. */
export function hiddenStates(encoder: FeatureEncoder, transformer: Transformer, batch: Batch): HiddenStates {
  return tf.tidy(() => {
    const e = encoder.embed(encoder.features(batch, { training: false }), { training: false });
    const o = transformer.forward(e.x, { paddingMask: e.paddingMask, attnBias: e.attnBias });
    tf.dispose(o.ffn); // kept by forward() beyond this tidy
    return { hidden: [e.x, ...o.blocks], last: o.output };
  });
}
