// SIMD128 kernels for tfjs-wasm. Batched single-precision matmul: C[b] = A[b] (M x K) * B[b] (K x N), row-major.
// tfjs-wasm runs XNNPACK only for batch 1; batched products (attention) fall back to a naive
// loop at ~2 GFLOP/s. This kernel tiles 4 rows x 8 columns in SIMD128 registers.
#include <wasm_simd128.h>

__attribute__((export_name("bmm")))
void bmm(const float* A, const float* B, float* C, int batch, int M, int K, int N) {
  const int N8 = N & ~7;
  for (int b = 0; b < batch; b++) {
    const float* a = A + (long)b * M * K;
    const float* bb = B + (long)b * K * N;
    float* c = C + (long)b * M * N;
    int i = 0;
    for (; i + 4 <= M; i += 4) {
      const float* a0 = a + (long)i * K;
      const float* a1 = a0 + K;
      const float* a2 = a1 + K;
      const float* a3 = a2 + K;
      for (int j = 0; j < N8; j += 8) {
        v128_t c00 = wasm_f32x4_splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        const float* bp = bb + j;
        for (int k = 0; k < K; k++, bp += N) {
          const v128_t b0 = wasm_v128_load(bp);
          const v128_t b1 = wasm_v128_load(bp + 4);
          v128_t s = wasm_f32x4_splat(a0[k]);
          c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(s, b0));
          c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(s, b1));
          s = wasm_f32x4_splat(a1[k]);
          c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(s, b0));
          c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(s, b1));
          s = wasm_f32x4_splat(a2[k]);
          c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(s, b0));
          c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(s, b1));
          s = wasm_f32x4_splat(a3[k]);
          c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(s, b0));
          c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(s, b1));
        }
        float* cp = c + (long)i * N + j;
        wasm_v128_store(cp, c00);
        wasm_v128_store(cp + 4, c01);
        wasm_v128_store(cp + N, c10);
        wasm_v128_store(cp + N + 4, c11);
        wasm_v128_store(cp + 2 * N, c20);
        wasm_v128_store(cp + 2 * N + 4, c21);
        wasm_v128_store(cp + 3 * N, c30);
        wasm_v128_store(cp + 3 * N + 4, c31);
      }
      for (int j = N8; j < N; j++) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int k = 0; k < K; k++) {
          const float v = bb[(long)k * N + j];
          s0 += a0[k] * v;
          s1 += a1[k] * v;
          s2 += a2[k] * v;
          s3 += a3[k] * v;
        }
        c[(long)i * N + j] = s0;
        c[(long)(i + 1) * N + j] = s1;
        c[(long)(i + 2) * N + j] = s2;
        c[(long)(i + 3) * N + j] = s3;
      }
    }
    for (; i < M; i++) {
      const float* ar = a + (long)i * K;
      for (int j = 0; j < N8; j += 8) {
        v128_t c0 = wasm_f32x4_splat(0), c1 = c0;
        const float* bp = bb + j;
        for (int k = 0; k < K; k++, bp += N) {
          const v128_t s = wasm_f32x4_splat(ar[k]);
          c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(s, wasm_v128_load(bp)));
          c1 = wasm_f32x4_add(c1, wasm_f32x4_mul(s, wasm_v128_load(bp + 4)));
        }
        wasm_v128_store(c + (long)i * N + j, c0);
        wasm_v128_store(c + (long)i * N + j + 4, c1);
      }
      for (int j = N8; j < N; j++) {
        float s = 0;
        for (int k = 0; k < K; k++) s += ar[k] * bb[(long)k * N + j];
        c[(long)i * N + j] = s;
      }
    }
  }
}

// Elementwise exp and erf in SIMD128 for tfjs-wasm, whose scalar Exp/Erf kernels cost ~7% of a
// ViT training step (GELU forward and its gradient).
// exp: Cephes-style range reduction x = n ln2 + r and a degree-6 polynomial (relative error ~1e-7).
static inline v128_t exp4(v128_t x) {
  const v128_t hi = wasm_f32x4_splat(88.72283905206835f), lo = wasm_f32x4_splat(-87.3365478515625f);
  v128_t xc = wasm_f32x4_min(wasm_f32x4_max(x, lo), hi);
  v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(xc, wasm_f32x4_splat(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(xc, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.9875691500e-4f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.3981999507e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(8.3334519073e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(4.1665795894e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.6666665459e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(5.0000001201e-1f));
  p = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(p, wasm_f32x4_mul(r, r)), r), wasm_f32x4_splat(1.0f));
  // 2^n in two factors: n reaches 128 near the top of the range, past the largest float exponent.
  const v128_t ni = wasm_i32x4_trunc_sat_f32x4(n);
  const v128_t n1 = wasm_i32x4_shr(ni, 1);
  const v128_t s1 = wasm_i32x4_shl(wasm_i32x4_add(n1, wasm_i32x4_splat(127)), 23);
  const v128_t s2 = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_sub(ni, n1), wasm_i32x4_splat(127)), 23);
  v128_t y = wasm_f32x4_mul(wasm_f32x4_mul(p, s1), s2);
  // Beyond the float range: +inf above, 0 below (the clamp keeps the polynomial finite).
  y = wasm_v128_bitselect(wasm_f32x4_splat(__builtin_inff()), y, wasm_f32x4_gt(x, wasm_f32x4_splat(88.72283905206835f)));
  y = wasm_v128_andnot(y, wasm_f32x4_lt(x, wasm_f32x4_splat(-103.972077083991796f)));
  // NaN in, NaN out.
  return wasm_v128_bitselect(x, y, wasm_f32x4_ne(x, x));
}

// y[i] = f(x[i]) four lanes at a time; the last n % 4 go through a zero-padded vector.
static inline void map4(v128_t (*f)(v128_t), const float* x, float* y, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, f(wasm_v128_load(x + i)));
  if (i < n) {
    float t[4] = {0, 0, 0, 0};
    for (int j = i; j < n; j++) t[j - i] = x[j];
    wasm_v128_store(t, f(wasm_v128_load(t)));
    for (int j = i; j < n; j++) y[j] = t[j - i];
  }
}

__attribute__((export_name("exp_f32")))
void exp_f32(const float* x, float* y, int n) { map4(exp4, x, y, n); }

// erf: Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, the formula tfjs's cpu backend uses)
// for |x| >= 0.8; below, where 1 - p * exp(-x^2) cancels in float32, the Taylor series to x^17.
static inline v128_t erf4(v128_t x) {
  const v128_t sign = wasm_v128_and(x, wasm_i32x4_splat((int)0x80000000));
  const v128_t ax = wasm_f32x4_abs(x);
  const v128_t t = wasm_f32x4_div(wasm_f32x4_splat(1.0f), wasm_f32x4_add(wasm_f32x4_splat(1.0f), wasm_f32x4_mul(ax, wasm_f32x4_splat(0.3275911f))));
  v128_t p = wasm_f32x4_splat(1.061405429f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(-1.453152027f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(1.421413741f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(-0.284496736f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(0.254829592f));
  p = wasm_f32x4_mul(p, t);
  const v128_t e = exp4(wasm_f32x4_neg(wasm_f32x4_mul(ax, ax)));
  const v128_t big = wasm_f32x4_sub(wasm_f32x4_splat(1.0f), wasm_f32x4_mul(p, e));
  const v128_t x2 = wasm_f32x4_mul(ax, ax);
  v128_t q = wasm_f32x4_splat(-1.0f / 685440.0f);
  q = wasm_f32x4_add(wasm_f32x4_mul(q, x2), wasm_f32x4_splat(1.0f / 75600.0f));
  q = wasm_f32x4_add(wasm_f32x4_mul(q, x2), wasm_f32x4_splat(-1.0f / 9360.0f));
  q = wasm_f32x4_add(wasm_f32x4_mul(q, x2), wasm_f32x4_splat(1.0f / 1320.0f));
  q = wasm_f32x4_add(wasm_f32x4_mul(q, x2), wasm_f32x4_splat(-1.0f / 216.0f));
  q = wasm_f32x4_add(wasm_f32x4_mul(q, x2), wasm_f32x4_splat(1.0f / 42.0f));
  q = wasm_f32x4_add(wasm_f32x4_mul(q, x2), wasm_f32x4_splat(-1.0f / 10.0f));
  q = wasm_f32x4_add(wasm_f32x4_mul(q, x2), wasm_f32x4_splat(1.0f / 3.0f));
  q = wasm_f32x4_sub(wasm_f32x4_splat(1.0f), wasm_f32x4_mul(q, x2));
  const v128_t small = wasm_f32x4_mul(wasm_f32x4_mul(q, ax), wasm_f32x4_splat(1.1283791670955126f));
  const v128_t y = wasm_v128_bitselect(small, big, wasm_f32x4_lt(ax, wasm_f32x4_splat(0.8f)));
  return wasm_v128_or(y, sign);
}

__attribute__((export_name("erf_f32")))
void erf_f32(const float* x, float* y, int n) { map4(erf4, x, y, n); }
