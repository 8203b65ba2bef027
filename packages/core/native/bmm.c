// Batched single-precision matmul for tfjs-wasm: C[b] = A[b] (M x K) * B[b] (K x N), row-major.
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
