/**
 * 16-bit float decoding. Public checkpoints are often stored as F16 or BF16;
 * tfjs has no such dtypes, so they are widened to float32 on load.
 */

/** IEEE 754 binary16 bit patterns -> float32 values (exact: every half is a float). */
export function float16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) {
      // Inf or NaN: all-ones exponent, mantissa (NaN payload) moved to the top.
      outBits[i] = sign | 0x7f800000 | (mant << 13);
    } else if (exp !== 0) {
      // Normal: rebias the exponent from 15 to 127.
      outBits[i] = sign | ((exp + 112) << 23) | (mant << 13);
    } else {
      // Zero or subnormal (mant * 2^-24) is a normal float32; computing the value keeps the sign of zero.
      out[i] = (sign ? -1 : 1) * mant * 2 ** -24;
    }
  }
  return out;
}

/** bfloat16 bit patterns -> float32 values: bfloat16 is the top half of a float32. */
export function bfloat16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) outBits[i] = bits[i]! << 16;
  return out;
}
