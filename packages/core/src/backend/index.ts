export { initBackend, registerBackend, registeredBackends, activeBackend, BACKEND_NAMES } from './registry.js';
export type { BackendName, InitBackendOptions } from './registry.js';
export { patchWasmKernels, unpatchWasmKernels, collapsePermutation } from './wasmPatches.js';
export { registerWasmSegmentSum } from './segmentSum.js';
export { registerConvFilterGradient, conv2dFilterGrad } from './convGrad.js';
