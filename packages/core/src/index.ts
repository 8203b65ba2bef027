// Public API of @d2v/core: what a modality package, a plugin or an application uses (the building
// blocks, the objective, the run functions, config, registries, inference, reporting). Run-folder,
// CLI-parsing and output-format internals are not exported; benchmark helpers live in
// `@d2v/core/bench`, test helpers in `@d2v/core/testing`.
export * from './errors.js';
export * from './backend/index.js';
export { Rng } from './util/rng.js';
export type { RngState } from './util/rng.js';
export { stepRng } from './train/stepRng.js';

// Tensors and layers
export {
  linear,
  layerNorm,
  gelu,
  dropout,
  gatherRows,
  maskedMeanOverTime,
  applyMaskEmbedding,
  stopGradient,
} from './ops/basic.js';
export { Module, ModuleGroup, weightsUnder } from './nn/module.js';
export type { ParamInfo, ParamOptions } from './nn/module.js';
export { Linear, LayerNorm } from './nn/layers.js';
export { truncNormal, xavierUniform, fanInUniform } from './nn/init.js';
export { Transformer, DEFAULT_TRANSFORMER, disposeOutput } from './nn/transformer.js';
export type { TransformerConfig, TransformerOutput, ForwardOptions } from './nn/transformer.js';

// The data2vec objective
export { buildTargets, layerNormNoParams, instanceNormOverTime } from './objective/targets.js';
export type { TargetOptions } from './objective/targets.js';
export { regressionLoss, elementwiseRegression } from './objective/loss.js';
export type { RegressionLossOptions } from './objective/loss.js';
export { emaDecay, EmaTeacher } from './objective/ema.js';
export type { EmaDecayOptions } from './objective/ema.js';
export { channelStd, checkCollapse } from './objective/collapse.js';
export type { CollapseGuardOptions } from './objective/collapse.js';
export { RegressionHead } from './model/regressionHead.js';
export { Data2VecTaskBase, buildStudent, topKTargets } from './model/base.js';
export type { Data2VecParts } from './model/base.js';
export { Data2VecPretrainTask } from './model/data2vec.js';
export { Data2Vec2PretrainTask, multiMask, maskedRegression } from './model/data2vec2.js';
export type { MultiMask } from './model/data2vec2.js';
export { ConvDecoder } from './model/decoder.js';
export { createPretrainTask } from './model/pretrainTask.js';
export type { PretrainTask } from './model/pretrainTask.js';
export { createDownstreamTask } from './model/downstreamTask.js';
export type { DownstreamTaskSpec, HeadTask } from './model/downstreamTask.js';

// Optimisation and training
export { AdamW, clipByGlobalNorm, clipScale, globalNorm } from './optim/adamw.js';
export type { AdamWConfig } from './optim/adamw.js';
export { learningRate } from './optim/schedule.js';
export type { ScheduleConfig, ScheduleName } from './optim/schedule.js';
export { Trainer } from './train/trainer.js';
export type { TrainerOptions, TrainResult, StepRecord } from './train/trainer.js';
export type { TrainTask, LossResult } from './train/task.js';

// Config, registry, CLI
export { opt, int, describeRange, suggestKey } from './config/schema.js';
export type {
  OptionSpec,
  OptionType,
  OptionValue,
  Range,
  Schema,
  ConfigTree,
  ConfigOf,
  DeepPartial,
} from './config/schema.js';
export { CORE_SCHEMA } from './config/coreSchema.js';
export { resolveConfig, resolveStoredConfig } from './config/resolve.js';
export { quickPreset } from './config/quickPreset.js';
export { maskRatio, spanMasking } from './config/masking.js';
export { RENAMED_KEYS } from './config/renamed.js';
export type {
  ResolvedConfig,
  ResolvedConfigOf,
  PresetOf,
  PresetsOf,
  ObjectiveConfig,
  DecoderConfig,
  OptimConfig,
  TrainConfig,
  ResolveOptions,
} from './config/resolve.js';
export { registerModality, getModality, loadModality, registeredModalities, discoverModalities } from './registry/registry.js';
export type { RegisterOptions } from './registry/registrations.js';
export type {
  Modality,
  AnyModality,
  Batch,
  Features,
  Embedded,
  StepContext,
  FeatureEncoder,
  MaskResult,
  MaskingStrategy,
  DataSource,
  DownstreamContext,
  DownstreamTask,
  ModalityInference,
  NamedInput,
  SkippedInput,
  PredictionRecord,
  Predictor,
  PredictionHead,
} from './registry/modality.js';
export {
  pretrain,
  finetune,
  evaluate,
  info,
  prepareRun,
  resolveCheckpointDir,
  loadStudentWeights,
  finetuneConfig,
} from './run/commands.js';
export type { RunOptions, PretrainOutcome, FinetuneOutcome } from './run/commands.js';
export { trainTask } from './run/trainTask.js';
export type { TrainTaskOptions } from './run/trainTask.js';
export type { TaskFactory, ReplicaContext, Json } from './train/parallel.js';
export { exportCheckpoint, openCheckpoint, EXPORT_FORMATS } from './cli/export.js';
export type { ExportOptions, ExportResult, OpenedCheckpoint } from './cli/export.js';
export { resolveWithHfInit, hfMappingOf } from './run/hfInit.js';

// Inference with trained runs: loadModel, embed, predict
export { loadModel, D2vModel, EMBED_POOLS, EMBED_LAYERS, DEFAULT_INFERENCE_BATCH } from './inference/model.js';
export type {
  LoadModelOptions,
  InferenceOptions,
  EmbedOptions,
  Embeddings,
  Predictions,
  ModelInput,
  EmbedPool,
  EmbedLayers,
} from './inference/model.js';
export { writePredictions, predictionsToJsonl, predictionsToCsv, writeEmbeddings, embeddingsToSafetensors } from './inference/outputs.js';
// d2v's flag parser (--key value -> config overrides), for scripts that take the same options as `d2v pretrain`.
export { parseArgs } from './cli/args.js';
export type { ParsedArgs } from './cli/args.js';
// The d2v command in-process: cliMain returns its exit code and throws what fails; runCli prints the one-line error and sets process.exitCode.
export { main as cliMain, runCli, d2vVersion } from './cli/main.js';
export { EXIT } from './cli/failure.js';

// Reporting
export * from './report/index.js';
export * from './io/index.js';
export { trainLinearProbe, accuracyOf } from './eval/linearProbe.js';
export type { ProbeData, ProbeOptions, ProbeResult } from './eval/linearProbe.js';
export { crossEntropy, classificationMetrics } from './eval/classification.js';
export { summarizePretraining, SUMMARY_FILE } from './eval/summary.js';
export type { PretrainSummary, SummaryOptions } from './eval/summary.js';
export type { ClassificationMetrics } from './eval/classification.js';
export { im2col, col2im, convOutputLength, groupedConvSame, groupedConv2dSame } from './ops/conv.js';
export { rdft, rdftBases, powerSpectrum, stftPower } from './ops/dft.js';
export type { StftOptions } from './ops/dft.js';
