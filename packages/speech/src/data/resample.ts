/**
 * Band-limited resampling by a Kaiser-windowed sinc (any rate ratio).
 *
 * Each output sample at input time t is sum_k x[k] * fc * sinc(fc (t - k)) * w(fc (t - k) / Z),
 * with the cutoff fc (in units of the input Nyquist) below the LOWER of the two Nyquist
 * frequencies, so downsampling does not alias and upsampling does not image. The windowed
 * sinc is tabulated once per (Z, beta) and linearly interpolated, which keeps arbitrary
 * (even irrational) ratios cheap: about 2 Z / fc multiply-adds per output sample.
 */

export interface ResampleOptions {
  /** Zero crossings of the sinc on each side (filter half-width); more = sharper transition. Default 32. */
  zeroCrossings?: number;
  /** Cutoff as a fraction of the lower Nyquist frequency. Default 0.92 (passband flat to ~0.85). */
  rolloff?: number;
  /** Kaiser window beta: 8.6 gives about 86 dB stopband attenuation. */
  beta?: number;
}

/** Table samples per zero crossing: linear interpolation error ~ (pi / density)^2 / 8, about 5e-6. */
const DENSITY = 512;

/** Modified Bessel function of the first kind, order 0 (power series; converges fast for beta < 20). */
export function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

const tables = new Map<string, Float64Array>();

/** sinc(z) * kaiser(z / zeros) for z = i / DENSITY, i = 0 .. zeros * DENSITY (+1 zero for interpolation). */
function windowedSincTable(zeros: number, beta: number): Float64Array {
  const key = `${zeros}:${beta}`;
  let table = tables.get(key);
  if (table) return table;
  const n = zeros * DENSITY;
  table = new Float64Array(n + 2);
  const norm = besselI0(beta);
  for (let i = 0; i <= n; i++) {
    const z = i / DENSITY;
    const sinc = i === 0 ? 1 : Math.sin(Math.PI * z) / (Math.PI * z);
    const r = z / zeros;
    table[i] = (sinc * besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r)))) / norm;
  }
  tables.set(key, table);
  return table;
}

/** Output length for `n` input samples: every output instant inside the input's time span. */
export function resampledLength(n: number, fromRate: number, toRate: number): number {
  return Math.ceil((n * toRate) / fromRate);
}

/** Resamples `x` from `fromRate` to `toRate` Hz (samples outside the signal count as zero). */
export function resample(x: Float32Array, fromRate: number, toRate: number, opts: ResampleOptions = {}): Float32Array {
  if (!(fromRate > 0) || !(toRate > 0)) throw new RangeError(`resample: rates must be positive (got ${fromRate} -> ${toRate})`);
  if (fromRate === toRate) return x.slice();
  const zeros = opts.zeroCrossings ?? 32;
  const beta = opts.beta ?? 8.6;
  const rolloff = opts.rolloff ?? 0.92;
  if (!(rolloff > 0 && rolloff <= 1)) throw new RangeError(`resample: rolloff must be in (0, 1] (got ${rolloff})`);
  const table = windowedSincTable(zeros, beta);
  const limit = zeros * DENSITY;
  // Cutoff in cycles per input sample x 2 (1 = input Nyquist).
  const fc = rolloff * Math.min(1, toRate / fromRate);
  const halfWidth = zeros / fc;
  const n = x.length;
  const out = new Float32Array(resampledLength(n, fromRate, toRate));
  const step = fc * DENSITY;
  for (let j = 0; j < out.length; j++) {
    // Input-time position of output j, split exactly into integer and fraction (rates are integers in practice).
    const num = j * fromRate;
    const k0 = Math.floor(num / toRate);
    const t = k0 + (num - k0 * toRate) / toRate;
    const kLo = Math.max(0, Math.ceil(t - halfWidth));
    const kHi = Math.min(n - 1, Math.floor(t + halfWidth));
    let acc = 0;
    for (let k = kLo; k <= kHi; k++) {
      const pos = Math.abs(t - k) * step;
      const i = pos | 0;
      if (i >= limit) continue;
      const f = pos - i;
      acc += x[k]! * (table[i]! + f * (table[i + 1]! - table[i]!));
    }
    out[j] = acc * fc;
  }
  return out;
}
