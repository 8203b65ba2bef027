// Types of tfjsGradientsAndChainedOps.mjs. Importing it registers tfjs-core's gradients and its
// chained tensor methods; these are the methods' types (tfjs-core's augmentation of Tensor).
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';
export {};
