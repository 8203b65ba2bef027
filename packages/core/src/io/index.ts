export { writeFileAtomic, writeDirAtomic, TEMP_DIR_PREFIX } from './atomic.js';
export { encodeSafetensors, decodeSafetensors, tensorsToSafetensors, safetensorsToTensors, rawToTensor, MAX_HEADER_BYTES } from './safetensors.js';
export type { RawTensor, StDtype, DecodedSafetensors } from './safetensors.js';
export { CheckpointManager, diffConfig, CHECKPOINT_FORMAT } from './checkpoint.js';
export type { CheckpointPayload, LoadedCheckpoint, LoadOptions } from './checkpoint.js';
