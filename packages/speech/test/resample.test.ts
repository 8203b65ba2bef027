import { describe, expect, it } from 'vitest';
import { besselI0, resample, resampledLength } from '../src/data/resample.js';

function sine(rate: number, freq: number, seconds: number, amplitude = 0.5): Float32Array {
  return Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => amplitude * Math.sin((2 * Math.PI * freq * i) / rate));
}

/** Largest error against the ideal sine at the new rate, skipping 10 ms at each edge (zero padding there). */
function relativeError(y: Float32Array, rate: number, freq: number, amplitude = 0.5): number {
  const edge = Math.round(0.01 * rate);
  let worst = 0;
  for (let i = edge; i < y.length - edge; i++) worst = Math.max(worst, Math.abs(y[i]! - amplitude * Math.sin((2 * Math.PI * freq * i) / rate)));
  return worst / amplitude;
}

const rms = (y: Float32Array, edge: number) => Math.sqrt(y.subarray(edge, y.length - edge).reduce((a, v) => a + v * v, 0) / (y.length - 2 * edge));

describe('resample (Kaiser-windowed sinc)', () => {
  it.each([
    [44100, 16000],
    [8000, 16000],
    [22050, 16000],
    [16000, 8000],
    [16000, 44100],
  ])('%i -> %i Hz keeps a 1 kHz sine (frequency and amplitude, error < 1e-3 relative)', (from, to) => {
    const y = resample(sine(from, 1000, 0.5), from, to);
    expect(y.length).toBe(resampledLength(Math.round(from * 0.5), from, to));
    expect(relativeError(y, to, 1000)).toBeLessThan(1e-3);
  });

  it('a 1.1 kHz tone is not mistaken for 1 kHz (the check above is sensitive to frequency)', () => {
    const y = resample(sine(44100, 1100, 0.5), 44100, 16000);
    expect(relativeError(y, 16000, 1000)).toBeGreaterThan(0.5);
  });

  it('attenuates a 7 kHz tone at 44.1 kHz strongly when going to 8 kHz (no aliasing to 1 kHz)', () => {
    const x0 = sine(44100, 7000, 0.5);
    const y = resample(x0, 44100, 8000);
    // The input RMS is 0.354; require over 80 dB of attenuation.
    expect(rms(y, 80)).toBeLessThan(0.354e-4);
    // Naive decimation (picking the nearest sample) aliases it at full strength.
    const naive = Float32Array.from({ length: 4000 }, (_, i) => x0[Math.round((i * 44100) / 8000)]!);
    expect(rms(naive, 80)).toBeGreaterThan(0.3);
  });

  it('passes DC with unit gain and handles edge cases', () => {
    const y = resample(new Float32Array(4000).fill(0.25), 44100, 16000);
    expect(y[Math.floor(y.length / 2)]).toBeCloseTo(0.25, 5);
    expect(resample(new Float32Array(0), 8000, 16000).length).toBe(0);
    const same = new Float32Array([1, 2, 3]);
    expect(resample(same, 16000, 16000)).toEqual(same);
    expect(() => resample(same, 0, 16000)).toThrow(RangeError);
  });

  it('besselI0 matches known values', () => {
    expect(besselI0(0)).toBe(1);
    expect(besselI0(1)).toBeCloseTo(1.2660658777520082, 12);
    expect(besselI0(5)).toBeCloseTo(27.239871823604442, 9);
    expect(besselI0(10)).toBeCloseTo(2815.716628466254, 7);
  });
});
