/**
 * Our own SIMD batched matmul (native/bmm.c compiled to wasm32 + SIMD128),
 * for batched products with batch > 1, which tfjs-wasm runs in a naive loop.
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

interface BmmModule {
  memory: WasmMemory;
  bmm: (a: number, b: number, c: number, batch: number, m: number, k: number, n: number) => void;
  heapBase: number;
}

let mod: BmmModule | null | undefined;

export function loadBmm(): BmmModule | null {
  if (mod !== undefined) return mod;
  try {
    const bytes = readFileSync(fileURLToPath(new URL('./bmm.wasm', import.meta.url)));
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
    const e = inst.exports as unknown as { memory: WasmMemory; bmm: BmmModule['bmm']; __heap_base: { value: number } };
    mod = { memory: e.memory, bmm: e.bmm, heapBase: Number(e.__heap_base.value) };
  } catch {
    mod = null;
  }
  return mod;
}

/** out = a @ b for row-major [batch, m, k] x [batch, k, n]. */
export function batchedMatMul(a: ArrayLike<number> & { length: number }, b: ArrayLike<number> & { length: number }, batch: number, m: number, k: number, n: number, out: Float32Array): boolean {
  const w = loadBmm();
  if (!w) return false;
  const base = (w.heapBase + 15) & ~15;
  const aBytes = batch * m * k * 4;
  const bBytes = batch * k * n * 4;
  const cBytes = batch * m * n * 4;
  const need = base + aBytes + bBytes + cBytes;
  const have = w.memory.buffer.byteLength;
  if (need > have) w.memory.grow(Math.ceil((need - have) / 65536));
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
