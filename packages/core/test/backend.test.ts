import { describe, it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, activeBackend, BackendError } from '../src/index.js';

describe('initBackend', () => {
  it('starts wasm and cpu, refuses unknown names and missing native packages', async () => {
    expect(await initBackend('cpu')).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(await initBackend('wasm')).toBe('wasm');
    expect(activeBackend()).toBe('wasm');
    await expect(initBackend('nope')).rejects.toThrow(/unknown backend 'nope'/);
    const native = await initBackend('tensorflow').catch((e) => e);
    if (native instanceof Error) expect(native).toBeInstanceOf(BackendError);
  });
});
