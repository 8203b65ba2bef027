/**
 * Minimal parameter container. Parameters are tf.Variables with dotted names
 * (`blocks.3.attn.qkv.weight`) so checkpoints are plain name -> tensor maps,
 * the EMA teacher can pair student and teacher weights by name, and the
 * optimiser can decide weight decay per parameter.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../errors.js';

export interface ParamOptions {
  /** Receives gradients and optimiser updates (default true). */
  trainable?: boolean;
  /** Decoupled weight decay applies (default: true for rank >= 2). */
  decay?: boolean;
}

export interface ParamInfo {
  variable: tf.Variable;
  decay: boolean;
  /** Multiplies the learning rate of this parameter (layer-wise lr decay); default 1. */
  lrScale?: number;
}

let uid = 0;

export abstract class Module {
  private readonly params = new Map<string, ParamInfo>();
  private readonly children = new Map<string, Module>();
  /** Dropout and layer drop are active only while training. */
  training = true;

  /** Creates (and owns) a parameter. `init` runs once, inside tidy. */
  protected param(name: string, init: () => tf.Tensor, opts: ParamOptions = {}): tf.Variable {
    if (this.params.has(name)) throw new ShapeError(`duplicate parameter name '${name}'`);
    const value = tf.tidy(init);
    const trainable = opts.trainable ?? true;
    const variable = tf.variable(value, trainable, `d2v_${uid++}_${name}`);
    value.dispose();
    this.params.set(name, { variable, decay: opts.decay ?? value.rank >= 2 });
    return variable;
  }

  /** Registers a sub-module under a name (its params become `name.*`). */
  protected child<M extends Module>(name: string, module: M): M {
    if (this.children.has(name)) throw new ShapeError(`duplicate child module '${name}'`);
    this.children.set(name, module);
    return module;
  }

  /** Every parameter of this module and its children, depth first, with dotted names. */
  namedParams(prefix = ''): [string, ParamInfo][] {
    const out: [string, ParamInfo][] = [];
    for (const [n, p] of this.params) out.push([prefix + n, p]);
    for (const [n, c] of this.children) out.push(...c.namedParams(`${prefix}${n}.`));
    return out;
  }

  /** name -> variable map (for checkpoints and EMA pairing). */
  variables(): Map<string, tf.Variable> {
    return new Map(this.namedParams().map(([n, p]) => [n, p.variable]));
  }

  trainableVariables(): tf.Variable[] {
    return this.namedParams()
      .map(([, p]) => p.variable)
      .filter((v) => v.trainable);
  }

  numParams(): number {
    return this.namedParams().reduce((s, [, p]) => s + p.variable.size, 0);
  }

  /** Switches training mode (dropout, layer drop) for this module and its children. */
  setTraining(training: boolean): this {
    this.training = training;
    for (const c of this.children.values()) c.setTraining(training);
    return this;
  }

  /** Freezes or unfreezes every parameter (used for frozen encoders in fine-tuning). */
  setTrainable(trainable: boolean): this {
    for (const [, p] of this.namedParams()) p.variable.trainable = trainable;
    return this;
  }

  /** Copies values by name from `tensors`; every parameter must be present with the same shape. */
  loadState(tensors: Record<string, tf.Tensor> | Map<string, tf.Tensor>, what = 'state', opts: { strict?: boolean } = {}): void {
    const src = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
    const missing: string[] = [];
    for (const [name, p] of this.namedParams()) {
      const t = src.get(name);
      if (!t) {
        missing.push(name);
        continue;
      }
      if (!tf.util.arraysEqual(t.shape, p.variable.shape)) {
        throw new ShapeError(`${what}: parameter ${name} has shape [${t.shape}] but the model expects [${p.variable.shape}]`);
      }
      p.variable.assign(t.dtype === p.variable.dtype ? t : tf.cast(t, p.variable.dtype));
    }
    if (missing.length && opts.strict !== false) {
      throw new ShapeError(`${what}: missing parameters ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ` (+${missing.length - 8} more)` : ''}`);
    }
  }

  /** name -> tensor snapshot (the variables themselves; do not dispose them). */
  state(): Record<string, tf.Tensor> {
    return Object.fromEntries(this.namedParams().map(([n, p]) => [n, p.variable]));
  }

  dispose(): void {
    for (const [, p] of this.params) p.variable.dispose();
    for (const c of this.children.values()) c.dispose();
    this.params.clear();
    this.children.clear();
  }
}

/**
 * The entries of a state whose names start with `prefix`, the prefix removed (e.g. a fine-tuned
 * head's parameters in a checkpoint's student group, ready for loadState); undefined when none do.
 */
export function weightsUnder(state: Record<string, tf.Tensor> | undefined, prefix: string): Record<string, tf.Tensor> | undefined {
  const entries = Object.entries(state ?? {}).filter(([k]) => k.startsWith(prefix));
  return entries.length ? Object.fromEntries(entries.map(([k, v]) => [k.slice(prefix.length), v])) : undefined;
}

/** Groups modules under names; used to EMA-track e.g. an encoder and a Transformer together. */
export class ModuleGroup extends Module {
  constructor(modules: Record<string, Module>) {
    super();
    for (const [n, m] of Object.entries(modules)) this.child(n, m);
  }
}
