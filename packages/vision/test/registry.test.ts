import { describe, it, expect } from 'vitest';
import { loadModality, discoverModalities, getModality } from '@d2v/core';

describe('registry discovery', () => {
  it('--modality vision loads @d2v/vision by name; the package is discoverable', async () => {
    const m = await loadModality('vision');
    expect(m.name).toBe('vision');
    expect(getModality('vision')).toBe(m);
    expect(Object.keys(m.presets)).toEqual(expect.arrayContaining(['tiny', 'paper-base']));
    expect(discoverModalities()).toContain('vision');
  });
});
