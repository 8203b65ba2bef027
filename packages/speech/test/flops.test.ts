import { describe, it, expect } from 'vitest';
import { speechEncoderForwardFlops, framesForSamples, PAPER_CONV_LAYERS, type SpeechEncoderConfig } from '../src/index.js';

const cfg = (over: Partial<SpeechEncoderConfig>): SpeechEncoderConfig => ({ convLayers: PAPER_CONV_LAYERS, dim: 768, posConvLayers: 0, posConvKernel: 19, posConvGroups: 16, dropout: 0, dropoutInput: 0, ...over });

describe('speech front-end FLOPs (for benchmarks)', () => {
  it('counts each conv over its output length, the projection and the positional convs', () => {
    // Two convs by hand: 1 -> 4 channels (kernel 3, stride 2), 4 -> 8 (kernel 2, stride 2); 5 frames.
    const layers = [{ channels: 4, kernel: 3, stride: 2 }, { channels: 8, kernel: 2, stride: 2 }];
    // Layer 2 makes 5 outputs from (5-1)*2+2 = 10 inputs, which layer 1 makes.
    const convs = 2 * 10 * 1 * 3 * 4 + 2 * 5 * 4 * 2 * 8;
    expect(speechEncoderForwardFlops(cfg({ convLayers: layers, dim: 16 }), 5)).toBe(convs + 2 * 5 * 8 * 16);
    expect(speechEncoderForwardFlops(cfg({ convLayers: layers, dim: 16, posConvLayers: 2, posConvGroups: 4 }), 5)).toBe(convs + 2 * 5 * 8 * 16 + 2 * 2 * 5 * 4 * 19 * 16);
  });

  it('the paper encoder costs ~4.9 GFLOP per second of audio, half of it in the second conv', () => {
    const frames = framesForSamples(16000, PAPER_CONV_LAYERS);
    expect(frames).toBe(49);
    const f = speechEncoderForwardFlops(cfg({}), frames);
    // Conv 2 (kernel 3, 512 -> 512) makes 1575 of the frames' 3151 first-layer outputs: 2.48 GFLOP.
    const conv2 = 2 * 1575 * 512 * 3 * 512;
    expect(conv2 / f).toBeGreaterThan(0.45);
    expect(conv2 / f).toBeLessThan(0.55);
    expect(f / 1e9).toBeGreaterThan(4.7);
    expect(f / 1e9).toBeLessThan(5.0);
  });
});
