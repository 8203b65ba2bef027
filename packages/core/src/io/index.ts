export { writeFileAtomic, writeDirAtomic, removeForeignTemps, restoreInterruptedReplacements, isForeignTemp, TEMP_PREFIX } from './atomic.js';
export { encodeSafetensors, decodeSafetensors, tensorsToSafetensors, safetensorsToTensors, rawToTensor, countNonFinite, MAX_HEADER_BYTES } from './safetensors.js';
export type { RawTensor, StDtype, StData, DecodedSafetensors } from './safetensors.js';
export { float16ToFloat32, bfloat16ToFloat32 } from './half.js';
export { CheckpointManager, stepDirName, CHECKPOINT_FORMAT } from './checkpoint.js';
export type { CheckpointPayload, LoadedCheckpoint, LoadOptions, TensorGroups } from './checkpoint.js';
export { diffConfig } from './configDiff.js';
export {
  HF_TRANSFORMER_KEYS,
  HF_POST_LN_KEYS,
  HF_CONFIG_FILE,
  HF_WEIGHTS_FILE,
  hfLinear,
  hfLayerNorm,
  hfTransformerWeights,
  hfConfigFor,
  d2vOptionsFromHf,
  checkDerivedHfOptions,
  hfTensorsFor,
  d2vTensorsFromHf,
  isHfCheckpoint,
  readHfConfig,
  readHfTensors,
  writeHfCheckpoint,
  hiddenStates,
} from './hf.js';
export type { HfLayout, HfWeight, HfConfigKey, HfMapping, AnyHfMapping, HfBlockNames, HfImportedConfig, HfImportedWeights, HiddenStates } from './hf.js';
export { encodeNpy } from './npy.js';
export type { NpyData } from './npy.js';
