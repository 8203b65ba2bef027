/// <reference path="./wav-decoder.d.ts" />
/**
 * WAV input/output. The RIFF chunk walk is our own so that broken files
 * (not WAV, truncated, empty, unsupported encodings) fail with a DataError
 * naming the file before any decoding; the sample decoding itself is
 * wav-decoder's. Everything returned is mono Float32 at the requested rate.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import wavDecoder, { type AudioData } from 'wav-decoder';
import { DataError } from '@d2v/core';
import { resample } from './resample.js';

const FORMAT_PCM = 0x0001;
const FORMAT_FLOAT = 0x0003;
const FORMAT_EXTENSIBLE = 0xfffe;

export interface WavInfo {
  /** 1 = integer PCM, 3 = IEEE float (WAVE_FORMAT_EXTENSIBLE resolved to its sub-format). */
  format: 1 | 3;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  /** Bytes per frame (all channels). */
  blockAlign: number;
  /** Byte offset of the audio data in the file. */
  dataOffset: number;
  /** Byte length of the audio data. */
  dataBytes: number;
  /** Frames (samples per channel) in the file. */
  frames: number;
}

export interface ReadWavOptions {
  /** Output sample rate; the file is resampled when it differs (default 16000). */
  targetRate?: number;
  /** Zero mean, unit variance per utterance (default false). */
  normalize?: boolean;
}

/** Frames the file yields at `targetRate`, from the header alone (the resampler's output length). */
export function framesAtRate(info: WavInfo, targetRate: number): number {
  return info.sampleRate === targetRate ? info.frames : Math.ceil((info.frames * targetRate) / info.sampleRate);
}

const fourcc = (b: Uint8Array, at: number) => String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);

/**
 * Parses the RIFF header and validates it against the file's real size.
 * `readAt(offset, length)` returns up to `length` bytes at `offset` (fewer at the end of the file).
 */
function parseHeader(file: string, fileSize: number, readAt: (offset: number, length: number) => Uint8Array): WavInfo {
  if (fileSize === 0) throw new DataError(file, 'empty file (0 bytes)');
  const head = readAt(0, 12);
  if (head.length < 12 || fourcc(head, 0) !== 'RIFF' || fourcc(head, 8) !== 'WAVE') {
    throw new DataError(file, 'not a WAV file (no RIFF/WAVE header)');
  }
  const riffEnd = new DataView(head.buffer, head.byteOffset, 12).getUint32(4, true) + 8;
  if (riffEnd > fileSize) {
    throw new DataError(file, `truncated: the RIFF header declares ${riffEnd} bytes but the file has ${fileSize}`);
  }
  let fmt: Omit<WavInfo, 'dataOffset' | 'dataBytes' | 'frames'> | undefined;
  let data: { offset: number; bytes: number } | undefined;
  let pos = 12;
  while (pos + 8 <= riffEnd && !(fmt && data)) {
    const ch = readAt(pos, 8);
    const id = fourcc(ch, 0);
    const size = new DataView(ch.buffer, ch.byteOffset, 8).getUint32(4, true);
    const body = pos + 8;
    if (body + size > fileSize) {
      throw new DataError(file, `truncated: chunk '${id}' declares ${size} bytes but only ${fileSize - body} are present`);
    }
    if (id === 'fmt ') fmt = parseFormat(file, readAt(body, Math.min(size, 40)));
    else if (id === 'data') data = { offset: body, bytes: size };
    pos = body + size + (size & 1); // chunks are padded to even sizes
  }
  if (!fmt) throw new DataError(file, "not a usable WAV file: no 'fmt ' chunk");
  if (!data) throw new DataError(file, "not a usable WAV file: no 'data' chunk");
  const frames = Math.floor(data.bytes / fmt.blockAlign);
  if (frames === 0) throw new DataError(file, 'empty: the data chunk holds no audio samples');
  return { ...fmt, dataOffset: data.offset, dataBytes: frames * fmt.blockAlign, frames };
}

function parseFormat(file: string, b: Uint8Array): Omit<WavInfo, 'dataOffset' | 'dataBytes' | 'frames'> {
  if (b.length < 16) throw new DataError(file, `malformed 'fmt ' chunk (${b.length} bytes, need 16)`);
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  let tag = v.getUint16(0, true);
  const channels = v.getUint16(2, true);
  const sampleRate = v.getUint32(4, true);
  const blockAlign = v.getUint16(12, true);
  const bitsPerSample = v.getUint16(14, true);
  // WAVE_FORMAT_EXTENSIBLE (written by sox for > 16 bits or > 2 channels) keeps the real tag in its sub-format GUID.
  if (tag === FORMAT_EXTENSIBLE) {
    if (b.length < 26) throw new DataError(file, "malformed WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk");
    tag = v.getUint16(24, true);
  }
  const ok = (tag === FORMAT_PCM && [8, 16, 24, 32].includes(bitsPerSample)) || (tag === FORMAT_FLOAT && [32, 64].includes(bitsPerSample));
  if (!ok) {
    throw new DataError(
      file,
      `unsupported WAV encoding (format 0x${tag.toString(16)}, ${bitsPerSample} bits); ` +
        'supported: 8/16/24/32-bit integer PCM and 32/64-bit float (convert with `sox in.wav -b 16 out.wav`)',
    );
  }
  if (channels === 0) throw new DataError(file, 'malformed header: 0 channels');
  if (sampleRate === 0) throw new DataError(file, 'malformed header: sample rate 0');
  if (blockAlign !== (channels * bitsPerSample) / 8) {
    throw new DataError(file, `malformed header: block align ${blockAlign} != ${channels} channels x ${bitsPerSample} bits`);
  }
  return { format: tag as 1 | 3, channels, sampleRate, bitsPerSample, blockAlign };
}

/** Header of a WAV file in memory, validated (throws DataError naming `file`). */
export function parseWavHeader(bytes: Uint8Array, file = '<buffer>'): WavInfo {
  return parseHeader(file, bytes.length, (o, n) => bytes.subarray(o, Math.min(o + n, bytes.length)));
}

/** Header of a WAV file on disk, reading only the chunk headers (cheap: for sizes and skipBad checks). */
export function readWavInfo(file: string): WavInfo {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new DataError(file, `cannot open: ${(err as Error).message}`, { cause: err });
  }
  try {
    const size = fstatSync(fd).size;
    return parseHeader(file, size, (o, n) => {
      const buf = new Uint8Array(n);
      const got = readSync(fd, buf, 0, n, o);
      return buf.subarray(0, got);
    });
  } finally {
    closeSync(fd);
  }
}

/** A canonical 44-byte header + data, so wav-decoder sees plain PCM/float whatever the original chunk layout. */
function canonicalWav(bytes: Uint8Array, info: WavInfo): ArrayBuffer {
  const out = new ArrayBuffer(44 + info.dataBytes);
  const v = new DataView(out);
  writeHeader(v, info.format, info.channels, info.sampleRate, info.bitsPerSample, info.dataBytes);
  new Uint8Array(out, 44).set(bytes.subarray(info.dataOffset, info.dataOffset + info.dataBytes));
  return out;
}

function writeHeader(v: DataView, format: number, channels: number, rate: number, bits: number, dataBytes: number): void {
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < 4; i++) v.setUint8(at + i, s.charCodeAt(i));
  };
  const block = (channels * bits) / 8;
  ascii(0, 'RIFF');
  v.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, format, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * block, true);
  v.setUint16(32, block, true);
  v.setUint16(34, bits, true);
  ascii(36, 'data');
  v.setUint32(40, dataBytes, true);
}

/** Decodes WAV bytes to mono Float32 at `targetRate` (channels averaged). */
export function decodeWav(bytes: Uint8Array, file = '<buffer>', opts: ReadWavOptions = {}): Float32Array {
  const info = parseWavHeader(bytes, file);
  let decoded: AudioData;
  try {
    decoded = wavDecoder.decode.sync(canonicalWav(bytes, info), { symmetric: true });
  } catch (err) {
    throw new DataError(file, `cannot decode: ${(err as Error).message}`, { cause: err });
  }
  const mono = mixDown(decoded.channelData);
  const targetRate = opts.targetRate ?? 16000;
  const audio = info.sampleRate === targetRate ? mono : resample(mono, info.sampleRate, targetRate);
  return opts.normalize ? normalizeAudio(audio) : audio;
}

/** Reads a WAV file as mono Float32 at `targetRate` (default 16 kHz); DataError(file, problem) on any defect. */
export function readWav(file: string, opts: ReadWavOptions = {}): Float32Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new DataError(file, `cannot read: ${(err as Error).message}`, { cause: err });
  }
  return decodeWav(bytes, file, opts);
}

function mixDown(channels: Float32Array[]): Float32Array {
  if (channels.length === 1) return channels[0]!;
  const n = channels[0]!.length;
  const out = new Float32Array(n);
  const scale = 1 / channels.length;
  for (const ch of channels) for (let i = 0; i < n; i++) out[i]! += ch[i]! * scale;
  return out;
}

/**
 * Zero mean, unit variance over one utterance (fairseq's `normalize: true` for
 * data2vec / wav2vec 2.0 Large: layer norm over the whole waveform, eps 1e-5).
 */
export function normalizeAudio(x: Float32Array, eps = 1e-5): Float32Array {
  const n = x.length;
  if (n === 0) return new Float32Array(0);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i]!;
  mean /= n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (x[i]! - mean) ** 2;
  const inv = 1 / Math.sqrt(sq / n + eps);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (x[i]! - mean) * inv;
  return out;
}

export interface WriteWavOptions {
  sampleRate: number;
  /** 16-bit integer PCM (default) or 32-bit float. */
  encoding?: 'pcm16' | 'float32';
}

/** Encodes mono samples as a WAV file (16-bit PCM: x 32768, rounded and clipped, the inverse of symmetric decoding). */
export function encodeWav(samples: Float32Array, opts: WriteWavOptions): Uint8Array {
  const float = opts.encoding === 'float32';
  const bits = float ? 32 : 16;
  const dataBytes = samples.length * (bits / 8);
  const out = new Uint8Array(44 + dataBytes);
  const v = new DataView(out.buffer);
  writeHeader(v, float ? FORMAT_FLOAT : FORMAT_PCM, 1, opts.sampleRate, bits, dataBytes);
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    if (float) v.setFloat32(44 + 4 * i, s, true);
    else v.setInt16(44 + 2 * i, Math.max(-32768, Math.min(32767, Math.round(s * 32768))), true);
  }
  return out;
}

export function writeWav(file: string, samples: Float32Array, opts: WriteWavOptions): void {
  writeFileSync(file, encodeWav(samples, opts));
}
