/**
 * Our own SIMD kernels (native/bmm.c compiled to wasm32 + SIMD128): batched matmul
 * for products with batch > 1, which tfjs-wasm runs in a naive loop, and
 * elementwise exp/erf, which it runs in scalar code.
 * Operands are copied into the module's memory, multiplied, and copied into a
 * tfjs-wasm output buffer. Loads lazily; when it cannot (no SIMD, no file)
 * callers keep the stock kernel.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The WebAssembly global is not in the ES2022 lib; the few members used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
};

type Unary = (x: number, y: number, n: number) => void;

interface BmmModule {
  memory: WasmMemory;
  bmm: (a: number, b: number, c: number, batch: number, m: number, k: number, n: number) => void;
  exp_f32: Unary;
  erf_f32: Unary;
  heapBase: number;
}

let mod: BmmModule | null | undefined;

export function loadBmm(): BmmModule | null {
  if (mod !== undefined) return mod;
  try {
    const bytes = readFileSync(fileURLToPath(new URL('./bmm.wasm', import.meta.url)));
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    const e = inst.exports as unknown as Omit<BmmModule, 'heapBase'> & { __heap_base: { value: number } };
    mod = { memory: e.memory, bmm: e.bmm, exp_f32: e.exp_f32, erf_f32: e.erf_f32, heapBase: Number(e.__heap_base.value) };
  } catch {
    mod = null;
  }
  return mod;
}

/** Room for `bytes` after the module's heap base; returns its 16-byte aligned start. */
function reserve(w: BmmModule, bytes: number): number {
  const base = (w.heapBase + 15) & ~15;
  const have = w.memory.buffer.byteLength;
  if (base + bytes > have) w.memory.grow(Math.ceil((base + bytes - have) / 65536));
  return base;
}

/** out = exp(x) or erf(x), elementwise, with the SIMD kernels; false when the module is unavailable. */
export function simdUnary(kind: 'exp' | 'erf', x: Float32Array, out: Float32Array): boolean {
  const w = loadBmm();
  if (!w) return false;
  const n = x.length;
  const px = reserve(w, 8 * n + 16);
  const py = px + ((4 * n + 15) & ~15);
  const heap = new Float32Array(w.memory.buffer);
  heap.set(x, px / 4);
  (kind === 'exp' ? w.exp_f32 : w.erf_f32)(px, py, n);
  out.set(heap.subarray(py / 4, py / 4 + n));
  return true;
}

/** out = a @ b for row-major [batch, m, k] x [batch, k, n]. */
export function batchedMatMul(a: ArrayLike<number> & { length: number }, b: ArrayLike<number> & { length: number }, batch: number, m: number, k: number, n: number, out: Float32Array): boolean {
  const w = loadBmm();
  if (!w) return false;
  const aBytes = batch * m * k * 4;
  const bBytes = batch * k * n * 4;
  const cBytes = batch * m * n * 4;
  const base = reserve(w, aBytes + bBytes + cBytes);
  const heap = new Float32Array(w.memory.buffer);
  const pa = base;
  const pb = pa + aBytes;
  const pc = pb + bBytes;
  heap.set(a as Float32Array, pa / 4);
  heap.set(b as Float32Array, pb / 4);
  w.bmm(pa, pb, pc, batch, m, k, n);
  out.set(heap.subarray(pc / 4, pc / 4 + batch * m * n));
  return true;
}
