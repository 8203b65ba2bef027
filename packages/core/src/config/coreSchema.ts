/**
 * Options every modality shares. Defaults are data2vec 1.0 Base values where
 * the paper gives one; each modality's presets override per modality
 * (see shared/data2vec-reference.md).
 */
import { int, opt, type Schema } from './schema.js';

export const CORE_SCHEMA: Schema = {
  seed: int(1, 'random seed: weights, data order, masks and dropout all derive from it'),
  backend: opt('wasm', 'TensorFlow.js backend', { choices: ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] }),
  out: opt('runs/default', 'run directory (checkpoints, metrics, plots, resolved config)', { type: 'path' }),
  resume: opt(false, 'continue from the last checkpoint in --out'),
  model: {
    dim: int(768, 'Transformer width'),
    depth: int(12, 'number of Transformer blocks'),
    heads: int(12, 'attention heads'),
    ffnDim: int(3072, 'FFN hidden width'),
    norm: opt('post', 'layer norm placement', { choices: ['pre', 'post'] }),
    dropout: opt(0.1, 'dropout on residual branches'),
    attentionDropout: opt(0.1, 'dropout on attention probabilities'),
    activationDropout: opt(0, 'dropout after the FFN activation'),
    layerDrop: opt(0, 'probability of skipping a block while training'),
    layerScale: opt(0, 'initial layer-scale value (0 = off)'),
    finalNorm: opt(false, 'LayerNorm after the last block (pre-LN models)'),
  },
  objective: {
    topK: int(8, 'average the teacher outputs of the last K blocks'),
    targetSource: opt('ffn', "teacher output used: 'ffn' (FFN output before the last residual) or 'block' (block output)", {
      choices: ['ffn', 'block'],
    }),
    instanceNormTargetLayer: opt(false, 'instance norm (over time) on each target layer'),
    layerNormTargetLayer: opt(false, 'parameter-less layer norm on each target layer'),
    instanceNormTargets: opt(false, 'instance norm on the averaged target'),
    layerNormTargets: opt(false, 'parameter-less layer norm on the averaged target'),
    lossBeta: opt(0, 'Smooth L1 beta; 0 = squared error'),
    lossScale: opt(null, 'loss scale; null = 1/sqrt(C)', { type: 'number', nullable: true }),
    headLayers: int(1, 'regression head: 1 = Linear, 2 = Linear-GELU-Linear (text)'),
    emaStart: opt(0.999, 'EMA decay at the first update'),
    emaEnd: opt(0.9999, 'EMA decay after annealing'),
    emaAnnealSteps: int(30000, 'updates over which the EMA decay rises linearly'),
    emaEncoder: opt(false, 'EMA-copy the feature encoder too (official vision); otherwise it is shared'),
    minTargetVar: opt(0.1, 'stop when target variance falls below this after collapseCheckAfter'),
    minPredVar: opt(0.01, 'stop when prediction variance falls below this after collapseCheckAfter'),
    collapseCheckAfter: int(5000, 'updates before the collapse guard starts checking'),
  },
  optim: {
    lr: opt(5e-4, 'peak learning rate'),
    beta1: opt(0.9, 'Adam beta1'),
    beta2: opt(0.98, 'Adam beta2'),
    eps: opt(1e-6, 'Adam epsilon'),
    weightDecay: opt(0.01, 'decoupled weight decay (not on biases, norms, embeddings of rank 1)'),
    clipNorm: opt(0, 'clip gradients to this global norm (0 = off)'),
    schedule: opt('tri-stage', 'learning-rate schedule', { choices: ['cosine', 'tri-stage', 'constant', 'linear'] }),
    warmupSteps: int(1000, 'linear warm-up updates (cosine, constant, linear)'),
    phaseRatios: opt([0.03, 0.9, 0.07], 'tri-stage warm-up/hold/decay fractions'),
    initLrScale: opt(0.01, 'tri-stage: initial lr as a fraction of lr'),
    finalLrScale: opt(0.05, 'final lr as a fraction of lr'),
    accumulate: int(1, 'micro-batches per update (gradient accumulation)'),
  },
  train: {
    steps: int(400000, 'updates to run'),
    batchSize: int(64, 'samples per micro-batch'),
    logEvery: int(10, 'steps between metric records'),
    checkpointEvery: int(1000, 'steps between checkpoints (one is always written at the end)'),
    keepLast: int(3, 'checkpoints to keep'),
    workers: int(0, 'extra worker threads computing micro-batches in parallel (data parallel; use with optim.accumulate >= 2)'),
  },
  finetune: {
    init: opt('', 'pretrained run or checkpoint folder to start from; empty = random init (from scratch)', { type: 'path' }),
    lr: opt(1e-4, 'peak learning rate while fine-tuning'),
    steps: int(20000, 'fine-tuning updates'),
    batchSize: int(32, 'fine-tuning batch size'),
    warmupSteps: int(500, 'fine-tuning warm-up updates'),
    schedule: opt('cosine', 'fine-tuning lr schedule', { choices: ['cosine', 'tri-stage', 'constant', 'linear'] }),
    weightDecay: opt(0.05, 'fine-tuning weight decay'),
    clipNorm: opt(0, 'fine-tuning gradient clipping (0 = off)'),
  },
};
