export { writeFileAtomic, writeDirAtomic, removeForeignTemps, restoreInterruptedReplacements, isForeignTemp, TEMP_PREFIX } from './atomic.js';
export { encodeSafetensors, decodeSafetensors, tensorsToSafetensors, safetensorsToTensors, rawToTensor, countNonFinite, MAX_HEADER_BYTES } from './safetensors.js';
export type { RawTensor, StDtype, StData, DecodedSafetensors } from './safetensors.js';
export { float16ToFloat32, bfloat16ToFloat32 } from './half.js';
export { CheckpointManager, stepDirName, CHECKPOINT_FORMAT } from './checkpoint.js';
export type { CheckpointPayload, LoadedCheckpoint, LoadOptions, TensorGroups } from './checkpoint.js';
export { diffConfig } from './configDiff.js';
