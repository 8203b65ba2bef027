/**
 * Forward FLOPs of the speech front end (conv feature encoder, projection, positional convs) per
 * utterance, for benchmarks: at 128-512 channels the conv stack costs more than a tiny Transformer.
 */
import type { SpeechEncoderConfig } from './encoder.js';

/** 2 FLOPs per multiply-add, for an utterance that becomes `frames` Transformer frames. */
export function speechEncoderForwardFlops(cfg: SpeechEncoderConfig, frames: number): number {
  const layers = cfg.convLayers;
  // Output lengths from the top down: a layer's input is (out - 1) * stride + kernel samples.
  const outLen: number[] = new Array(layers.length);
  let len = frames;
  for (let i = layers.length - 1; i >= 0; i--) {
    outLen[i] = len;
    len = (len - 1) * layers[i]!.stride + layers[i]!.kernel;
  }
  let flops = 0;
  let inChannels = 1;
  layers.forEach((l, i) => {
    flops += 2 * outLen[i]! * inChannels * l.kernel * l.channels;
    inChannels = l.channels;
  });
  flops += 2 * frames * inChannels * cfg.dim; // projection to the Transformer width
  flops += cfg.posConvLayers * 2 * frames * (cfg.dim / cfg.posConvGroups) * cfg.posConvKernel * cfg.dim;
  return flops;
}
