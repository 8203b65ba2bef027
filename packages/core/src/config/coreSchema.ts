/**
 * Options every modality shares. Defaults are data2vec 1.0 Base values where
 * the paper gives one; each modality's presets override per modality
 * (their help texts say which).
 */
import { int, opt, type Schema } from './schema.js';
import { BACKEND_CHOICES } from '../backend/registry.js';
import { SCHEDULE_NAMES } from '../optim/schedule.js';

export const CORE_SCHEMA = {
  seed: int(1, 'random seed: weights, data order, masks and dropout all derive from it'),
  backend: opt('wasm', 'TensorFlow.js backend: a registered one, or auto (the fastest that starts)', { choices: BACKEND_CHOICES }),
  out: opt('runs/default', 'run directory (checkpoints, metrics, plots, resolved config)', { type: 'path' }),
  resume: opt(false, 'continue from the last checkpoint in --out'),
  overwrite: opt(false, "start a new run in an --out folder that already holds one, deleting that run's config, metrics, plots and checkpoints"),
  model: {
    dim: int(768, 'Transformer width', { min: 1 }),
    depth: int(12, 'number of Transformer blocks', { min: 1 }),
    heads: int(12, 'attention heads', { min: 1 }),
    ffnDim: int(3072, 'FFN hidden width', { min: 1 }),
    norm: opt('post', 'layer norm placement', { choices: ['pre', 'post'] }),
    dropout: opt(0.1, 'dropout on residual branches', { min: 0, lt: 1 }),
    attentionDropout: opt(0.1, 'dropout on attention probabilities', { min: 0, lt: 1 }),
    activationDropout: opt(0, 'dropout after the FFN activation', { min: 0, lt: 1 }),
    layerDrop: opt(0, 'probability of skipping a block while training', { min: 0, lt: 1 }),
    layerScale: opt(0, 'initial layer-scale value (0 = off)', { min: 0 }),
    finalNorm: opt(false, 'LayerNorm after the last block (pre-LN models)'),
  },
  objective: {
    version: int(1, 'data2vec 1.0 (1: the student sees every time-step, masked ones replaced) or 2.0 (2: the student encodes only the visible time-steps, a conv decoder fills in the masked ones, several masks per sample share one teacher pass)', { min: 1, max: 2 }),
    clones: int(1, 'version 2: masked copies of each sample (multi-mask); the teacher runs once per sample and its targets serve every copy', { min: 1 }),
    maskNoiseStd: opt(0.01, 'version 2: std of the Gaussian noise the decoder gets at masked positions (there is no mask token)', { min: 0 }),
    clsLoss: opt(0, "version 2: weight of the loss pulling the student's first extra token (CLS) to the mean target (0 = off)", { min: 0 }),
    decoder: {
      conv: opt('1d', "version 2 decoder: '1d' convolution over time, or '2d' over the modality's grid (images)", { choices: ['1d', '2d'] }),
      dim: int(384, 'version 2 decoder: channels', { min: 1 }),
      kernel: int(7, 'version 2 decoder: convolution kernel (k, or k x k for 2d)', { min: 1 }),
      layers: int(4, 'version 2 decoder: conv -> LayerNorm (no affine) -> GELU layers', { min: 1 }),
      groups: int(16, 'version 2 decoder: channel groups of each convolution', { min: 1 }),
      residual: opt(true, 'version 2 decoder: residual around each layer whose input and output widths match'),
      inputDropout: opt(0.1, 'version 2 decoder: dropout on its input', { min: 0, lt: 1 }),
    },
    topK: int(8, 'average the teacher outputs of the last K blocks', { min: 1 }),
    targetSource: opt('ffn', "teacher output used: 'ffn' (FFN output before the last residual) or 'block' (block output)", {
      choices: ['ffn', 'block'],
    }),
    instanceNormTargetLayer: opt(false, 'instance norm (over time) on each target layer'),
    layerNormTargetLayer: opt(false, 'parameter-less layer norm on each target layer'),
    instanceNormTargets: opt(false, 'instance norm on the averaged target'),
    layerNormTargets: opt(false, 'parameter-less layer norm on the averaged target'),
    lossBeta: opt(0, 'Smooth L1 beta; 0 = squared error', { min: 0 }),
    lossScale: opt(null, 'loss scale; null = 1/sqrt(C)', { type: 'number', nullable: true, gt: 0 }),
    headLayers: int(1, 'regression head (version 1) or decoder projection (version 2): 1 = Linear, 2 = Linear-GELU-Linear (text)', { min: 1, max: 2 }),
    emaStart: opt(0.999, 'EMA decay at the first update', { min: 0, max: 1 }),
    emaEnd: opt(0.9999, 'EMA decay after annealing', { min: 0, max: 1 }),
    emaAnnealSteps: int(30000, 'updates over which the EMA decay rises linearly', { min: 0 }),
    emaEncoder: opt(false, 'EMA-copy the feature encoder too (official vision); otherwise it is shared'),
    minTargetVar: opt(0.1, 'stop when target variance falls below this after collapseCheckAfter', { min: 0 }),
    minPredVar: opt(0.01, 'stop when prediction variance falls below this after collapseCheckAfter', { min: 0 }),
    collapseCheckAfter: int(5000, 'updates before the collapse guard starts checking', { min: 0 }),
  },
  optim: {
    lr: opt(5e-4, 'peak learning rate', { gt: 0 }),
    beta1: opt(0.9, 'Adam beta1', { min: 0, lt: 1 }),
    beta2: opt(0.98, 'Adam beta2', { min: 0, lt: 1 }),
    eps: opt(1e-6, 'Adam epsilon', { gt: 0 }),
    weightDecay: opt(0.01, 'decoupled weight decay (not on biases, norms, embeddings of rank 1)', { min: 0 }),
    clipNorm: opt(0, 'clip gradients to this global norm (0 = off)', { min: 0 }),
    schedule: opt('tri-stage', 'learning-rate schedule', { choices: SCHEDULE_NAMES }),
    warmupSteps: int(1000, 'linear warm-up updates (cosine, constant, linear)', { min: 0 }),
    phaseRatios: opt([0.03, 0.9, 0.07], 'tri-stage warm-up/hold/decay fractions (three, summing to 1)', { min: 0, max: 1 }),
    initLrScale: opt(0.01, 'tri-stage: initial lr as a fraction of lr', { min: 0 }),
    finalLrScale: opt(0.05, 'final lr as a fraction of lr', { min: 0 }),
    accumulate: int(1, 'micro-batches per update (gradient accumulation)', { min: 1 }),
    maxNonFiniteSkips: int(
      5,
      'skip an update whose loss or gradient norm is NaN/Infinity (weights, moments and teacher unchanged) up to this many times in a row; one more stops the run (0 = stop at the first)',
      { min: 0 },
    ),
  },
  train: {
    steps: int(400000, 'updates to run', { min: 1 }),
    batchSize: int(64, 'samples per micro-batch', { min: 1 }),
    logEvery: int(10, 'steps between metric records', { min: 1 }),
    checkpointEvery: int(1000, 'steps between checkpoints (one is always written at the end)', { min: 1 }),
    keepLast: int(3, 'checkpoints to keep', { min: 1 }),
    workers: int(0, 'extra worker threads computing micro-batches in parallel (data parallel; use with optim.accumulate >= 2)', { min: 0 }),
  },
  finetune: {
    init: opt('', 'run, checkpoint or Hugging Face data2vec folder to start from (pretrain, finetune, eval, export); empty = random init (from scratch)', { type: 'path' }),
    lr: opt(1e-4, 'peak learning rate while fine-tuning', { gt: 0 }),
    steps: int(20000, 'fine-tuning updates', { min: 1 }),
    batchSize: int(32, 'fine-tuning batch size', { min: 1 }),
    warmupSteps: int(500, 'fine-tuning warm-up updates', { min: 0 }),
    schedule: opt('cosine', 'fine-tuning lr schedule', { choices: SCHEDULE_NAMES }),
    weightDecay: opt(0.05, 'fine-tuning weight decay', { min: 0 }),
    clipNorm: opt(0, 'fine-tuning gradient clipping (0 = off)', { min: 0 }),
  },
} satisfies Schema;
