import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError } from '@d2v/core';
import { decodeWav, encodeWav, normalizeAudio, readWav, readWavInfo, writeWav } from '../src/data/wav.js';

const dir = join(import.meta.dirname, 'fixtures', 'wav');

/** Largest deviation from 0.5 sin(2 pi 440 n / 16000) away from the resampler's edges. */
function sineError(x: Float32Array, amplitude = 0.5): number {
  let worst = 0;
  for (let i = 320; i < x.length - 320; i++) worst = Math.max(worst, Math.abs(x[i]! - amplitude * Math.sin((2 * Math.PI * 440 * i) / 16000)));
  return worst;
}

describe('readWav on files written by sox (0.25 s of a 440 Hz sine, amplitude 0.5)', () => {
  it.each([
    ['s16_16k.wav', 16, 16000, 1e-3],
    ['u8_8k.wav', 8, 8000, 1.5e-2],
    ['s24_22k.wav', 24, 22050, 1e-4],
    ['s32_44k.wav', 32, 44100, 1e-4],
    ['f32_44k.wav', 32, 44100, 1e-4],
    ['f64_16k.wav', 64, 16000, 1e-4],
  ])('%s (%i-bit, %i Hz) -> 16 kHz mono', (name, bits, rate, tol) => {
    const file = join(dir, name);
    const info = readWavInfo(file);
    expect(info.bitsPerSample).toBe(bits);
    expect(info.sampleRate).toBe(rate);
    const x = readWav(file);
    expect(x).toBeInstanceOf(Float32Array);
    expect(x.length).toBe(4000);
    expect(sineError(x)).toBeLessThan(tol);
  });

  it('resolves WAVE_FORMAT_EXTENSIBLE (sox writes it for 24/32-bit) to its sub-format', () => {
    expect(readWavInfo(join(dir, 's24_22k.wav')).format).toBe(1);
    expect(readWavInfo(join(dir, 'f32_44k.wav')).format).toBe(3);
  });

  it('mixes stereo down to the channel average', () => {
    // Left: the sine, right: silence.
    const x = readWav(join(dir, 'stereo_22k.wav'));
    expect(readWavInfo(join(dir, 'stereo_22k.wav')).channels).toBe(2);
    expect(sineError(x, 0.25)).toBeLessThan(1e-3);
  });

  it('keeps the file rate when asked and normalises per utterance', () => {
    const x = readWav(join(dir, 's32_44k.wav'), { targetRate: 44100 });
    expect(x.length).toBe(11025);
    const n = readWav(join(dir, 's16_16k.wav'), { normalize: true });
    const mean = n.reduce((a, b) => a + b, 0) / n.length;
    const variance = n.reduce((a, b) => a + (b - mean) ** 2, 0) / n.length;
    expect(Math.abs(mean)).toBeLessThan(1e-5);
    expect(variance).toBeCloseTo(1, 3);
    expect(normalizeAudio(new Float32Array([2, 2, 2]))).toEqual(new Float32Array([0, 0, 0]));
  });
});

describe('readWav on broken files', () => {
  it.each([
    ['not_wav.wav', /not a WAV file/],
    ['truncated.wav', /truncated: the RIFF header declares 8044 bytes but the file has 3000/],
    ['empty.wav', /empty: the data chunk holds no audio samples/],
    ['zero_bytes.wav', /empty file \(0 bytes\)/],
    ['missing.wav', /cannot read/],
  ])('%s -> DataError naming the file', (name, problem) => {
    const file = join(dir, name);
    let err: unknown;
    try {
      readWav(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).file).toBe(file);
    expect((err as DataError).message).toContain(file);
    expect((err as DataError).message).toMatch(problem);
  });

  it('checks the data chunk size even when the RIFF size was patched to the short length', () => {
    const bytes = new Uint8Array(readFileSync(join(dir, 'truncated.wav')));
    new DataView(bytes.buffer).setUint32(4, bytes.length - 8, true);
    expect(() => decodeWav(bytes, 'patched.wav')).toThrow(/patched.wav: truncated: chunk 'data' declares 8000 bytes but only 2956 are present/);
  });

  it('rejects encodings it cannot decode (e.g. A-law) with the format in the message', () => {
    const bytes = encodeWav(new Float32Array(10), { sampleRate: 8000 });
    new DataView(bytes.buffer).setUint16(20, 6, true);
    expect(() => decodeWav(bytes, 'alaw.wav')).toThrow(/alaw.wav: unsupported WAV encoding \(format 0x6, 16 bits\)/);
  });
});

describe('writeWav', () => {
  it('round-trips 16-bit PCM (within half a step) and float32 (exactly)', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'd2v-wav-'));
    try {
      const x = Float32Array.from({ length: 500 }, (_, i) => 0.9 * Math.sin(i / 7));
      writeWav(join(tmp, 'a.wav'), x, { sampleRate: 16000 });
      writeWav(join(tmp, 'b.wav'), x, { sampleRate: 16000, encoding: 'float32' });
      const a = readWav(join(tmp, 'a.wav'));
      const b = readWav(join(tmp, 'b.wav'));
      expect(Math.max(...a.map((v, i) => Math.abs(v - x[i]!)))).toBeLessThanOrEqual(0.5 / 32768 + 1e-9);
      expect(b).toEqual(x);
      // A foreign chunk before 'data' (as many writers add) is skipped.
      const raw = readFileSync(join(tmp, 'a.wav'));
      const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc\0')]);
      const withList = Buffer.concat([raw.subarray(0, 36), list, raw.subarray(36)]);
      withList.writeUInt32LE(withList.length - 8, 4);
      writeFileSync(join(tmp, 'c.wav'), withList);
      expect(readWav(join(tmp, 'c.wav'))).toEqual(a);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
