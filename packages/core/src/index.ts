export * from './errors.js';
export * from './backend/index.js';
export { Rng } from './train/rng.js';
export type { RngState } from './train/rng.js';
