/**
 * Kernel patches for tfjs-wasm. Its BatchMatMul runs XNNPACK only for
 * untransposed products with batch 1 and falls back to a naive loop
 * (~12x slower) otherwise; every matmul gradient uses transposes. We wrap the
 * kernels so that:
 *  - transpose flags become explicit (cheap) transposes + the fast path;
 *  - x[B, M, K] @ W[K, N] with shared weights runs as one [B*M, K] @ [K, N];
 *  - rank-5+ transposes are collapsed to rank <= 4 where axes stay adjacent;
 *  - true batched products run our SIMD kernel (bmm.ts);
 *  - Exp and Erf (GELU and its gradient) run SIMD kernels instead of scalar libm;
 *  - Identity shares data instead of copying it;
 *  - GatherV2 along axis 0 and Slice copy whole contiguous runs (the stock kernels compute every
 *    element's address, ~25 ns each: im2col and row gathers spent seconds per step there).
 * Results are identical up to float rounding (tested against the cpu backend).
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchedMatMul, loadBmm, simdUnary } from './bmm.js';

type KernelFunc = (args: { inputs: Record<string, tf.TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }) => tf.TensorInfo | tf.TensorInfo[];

interface Backend {
  disposeData(dataId: unknown, force?: boolean): boolean;
  incRef(dataId: unknown): void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

const patched = new Map<string, tf.KernelConfig>();

function replace(name: string, make: (orig: KernelFunc) => KernelFunc): void {
  const orig = tf.getKernel(name, 'wasm');
  if (!orig) return;
  patched.set(name, orig);
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...orig, kernelFunc: make(orig.kernelFunc as KernelFunc) as tf.KernelFunc });
}

/** Drops size-1 axes and merges runs of axes that stay adjacent and in order: the same memory permutation at lower rank. */
export function collapsePermutation(shape: number[], perm: number[]): { shape: number[]; perm: number[] } {
  // Drop size-1 axes: they never change memory order.
  const keep = perm.filter((p) => shape[p] !== 1);
  if (keep.length === 0) return { shape: [], perm: [] };
  // Group runs of source axes that also appear consecutively in the output.
  const groups: number[][] = [];
  for (const p of keep) {
    const last = groups[groups.length - 1];
    if (last && p === last[last.length - 1]! + 1) last.push(p);
    else groups.push([p]);
  }
  // Source order of groups -> new axis ids.
  const bySource = [...groups].sort((a, b) => a[0]! - b[0]!);
  const newShape = bySource.map((g) => g.reduce((s, a) => s * shape[a]!, 1));
  const newPerm = groups.map((g) => bySource.indexOf(g));
  return { shape: newShape, perm: newPerm };
}

let transposeFunc: KernelFunc | undefined;

function transposeInfo(x: tf.TensorInfo, perm: number[], backend: unknown): tf.TensorInfo {
  return transposeFunc!({ inputs: { x }, backend, attrs: { perm } }) as tf.TensorInfo;
}

const swapLast = (rank: number) => [...Array(rank).keys()].map((i) => (i === rank - 2 ? rank - 1 : i === rank - 1 ? rank - 2 : i));

/** A BatchMatMul, or a _FusedMatMul with nothing fused (bias/activation need the stock kernel). */
function plainMatMul(inputs: Record<string, tf.TensorInfo>, attrs: Record<string, unknown> | undefined): boolean {
  return !inputs['bias'] && !inputs['preluActivationWeights'] && (!attrs?.['activation'] || attrs['activation'] === 'linear');
}

function matMulPatch(orig: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const a0 = inputs['a']!;
    const b0 = inputs['b']!;
    const ta = !!attrs?.['transposeA'];
    const tb = !!attrs?.['transposeB'];
    const temps: tf.TensorInfo[] = [];
    let a = a0;
    let b = b0;
    if (ta) temps.push((a = transposeInfo(a0, swapLast(a0.shape.length), backend)));
    if (tb) temps.push((b = transposeInfo(b0, swapLast(b0.shape.length), backend)));
    const aBatch = a.shape.slice(0, -2).reduce((s, d) => s * d, 1);
    const bBatch = b.shape.slice(0, -2).reduce((s, d) => s * d, 1);
    const m = a.shape[a.shape.length - 2]!;
    const k = a.shape[a.shape.length - 1]!;
    const n = b.shape[b.shape.length - 1]!;
    let out: tf.TensorInfo;
    if (aBatch > 1 && bBatch === 1) {
      // Shared weights: fold the batch into rows so XNNPACK runs once. Same data, new shape.
      const r = orig({
        inputs: { ...inputs, a: { ...a, shape: [1, aBatch * m, k] }, b: { ...b, shape: [1, k, n] } },
        backend,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      }) as tf.TensorInfo;
      out = { ...r, shape: [...a.shape.slice(0, -2), m, n] };
    } else if (
      aBatch > 1 &&
      aBatch === bBatch &&
      tf.util.arraysEqual(a.shape.slice(0, -2), b.shape.slice(0, -2)) &&
      plainMatMul(inputs, attrs) &&
      loadBmm()
    ) {
      // True batched product (attention): our SIMD kernel instead of the stock naive loop.
      const be = backend as Backend;
      out = be.makeOutput([...a.shape.slice(0, -2), m, n], 'float32');
      // Views into the tfjs heap, not readSync copies: no fresh allocations on the hot path.
      batchedMatMul(be.typedArrayFromHeap(a), be.typedArrayFromHeap(b), aBatch, m, k, n, be.typedArrayFromHeap(out));
    } else {
      out = orig({ inputs: { ...inputs, a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } }) as tf.TensorInfo;
    }
    for (const t of temps) (backend as Backend).disposeData(t.dataId);
    return out;
  };
}

function transposePatch(orig: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const x = inputs['x']!;
    const perm = attrs!['perm'] as number[];
    if (x.shape.length <= 4) return orig({ inputs, backend, attrs });
    const c = collapsePermutation(x.shape, perm);
    const outShape = perm.map((p) => x.shape[p]!);
    if (c.perm.length <= 4) {
      if (c.perm.length <= 1 || c.perm.every((p, i) => p === i)) {
        // Pure reshape: copy through an identity transpose of rank 1 so the output owns its data.
        const r = orig({ inputs: { x: { ...x, shape: [x.shape.reduce((s, d) => s * d, 1)] } }, backend, attrs: { perm: [0] } }) as tf.TensorInfo;
        return { ...r, shape: outShape };
      }
      const r = orig({ inputs: { x: { ...x, shape: c.shape } }, backend, attrs: { perm: c.perm } }) as tf.TensorInfo;
      return { ...r, shape: outShape };
    }
    return orig({ inputs, backend, attrs });
  };
}

/**
 * Identity shares the data (refcount +1) as the cpu backend does, instead of copying it.
 * tfjs clones every tensor it saves for the backward pass, so this removes a copy per saved
 * tensor; wasm kernels never write into their inputs, so sharing is safe.
 */
function identityPatch(orig: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const x = inputs['x']!;
    if (x.dtype === 'string') return orig({ inputs, backend, attrs });
    (backend as Backend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}

/** float32 Exp/Erf through our SIMD kernels; other dtypes (and a missing module) keep the stock kernel. */
function simdUnaryPatch(kind: 'exp' | 'erf'): (orig: KernelFunc) => KernelFunc {
  return (orig) =>
    ({ inputs, backend, attrs }) => {
      const x = inputs['x']!;
      if (x.dtype !== 'float32' || !loadBmm()) return orig({ inputs, backend, attrs });
      const be = backend as Backend;
      const out = be.makeOutput(x.shape, 'float32');
      simdUnary(kind, be.typedArrayFromHeap(x), be.typedArrayFromHeap(out));
      return out;
    };
}

/** Rows of x along axis 0 (batchDims 0, indices in range): each row one typed-array copy. */
function gatherPatch(orig: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const x = inputs['x']!;
    const indices = inputs['indices']!;
    const axis = Number(attrs?.['axis'] ?? 0);
    const batchDims = Number(attrs?.['batchDims'] ?? 0);
    if ((axis !== 0 && axis !== -x.shape.length) || batchDims !== 0 || x.dtype === 'string' || x.shape.length === 0) return orig({ inputs, backend, attrs });
    const be = backend as Backend;
    const rows = x.shape[0]!;
    const check = be.typedArrayFromHeap(indices);
    for (let i = 0; i < check.length; i++) if (!(check[i]! >= 0 && check[i]! < rows)) return orig({ inputs, backend, attrs });
    const inner = x.shape.slice(1).reduce((p, d) => p * d, 1);
    const out = be.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    // Views only after makeOutput: growing the wasm heap detaches earlier ones.
    const ids = be.typedArrayFromHeap(indices);
    const src = be.typedArrayFromHeap(x);
    const dst = be.typedArrayFromHeap(out);
    for (let i = 0; i < ids.length; i++) {
      const from = ids[i]! * inner;
      dst.set(src.subarray(from, from + inner), i * inner);
    }
    return out;
  };
}

/** Slice as copies of its contiguous runs (the innermost axes it keeps whole, plus one partial axis). */
function slicePatch(orig: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const x = inputs['x']!;
    if (x.dtype === 'string' || x.shape.length === 0) return orig({ inputs, backend, attrs });
    const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, attrs!['begin'] as number[], attrs!['size'] as number[]);
    const shape = x.shape;
    const rank = shape.length;
    // Axis `cut` and the ones before it index runs; the axes after it are kept whole.
    let cut = rank - 1;
    while (cut > 0 && begin[cut] === 0 && size[cut] === shape[cut]) cut--;
    const strides: number[] = new Array(rank).fill(1);
    for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1]! * shape[d + 1]!;
    const run = size[cut]! * strides[cut]!;
    const be = backend as Backend;
    const out = be.makeOutput(size, x.dtype);
    const total = size.reduce((p, d) => p * d, 1);
    if (total === 0) return out;
    const src = be.typedArrayFromHeap(x);
    const dst = be.typedArrayFromHeap(out);
    const pos = new Array(cut).fill(0);
    for (let o = 0; o < total; o += run) {
      let from = begin[cut]! * strides[cut]!;
      for (let d = 0; d < cut; d++) from += (begin[d]! + pos[d]!) * strides[d]!;
      dst.set(src.subarray(from, from + run), o);
      for (let d = cut - 1; d >= 0; d--) {
        if (++pos[d] < size[d]!) break;
        pos[d] = 0;
      }
    }
    return out;
  };
}

/** Installs the patches (idempotent); returns a function that restores the original kernels. */
export function patchWasmKernels(): () => void {
  if (!patched.size) {
    transposeFunc = tf.getKernel('Transpose', 'wasm')?.kernelFunc as KernelFunc | undefined;
    if (!transposeFunc) return () => {};
    replace('BatchMatMul', matMulPatch);
    replace('_FusedMatMul', matMulPatch);
    replace('Transpose', transposePatch);
    replace('Identity', identityPatch);
    replace('Exp', simdUnaryPatch('exp'));
    replace('Erf', simdUnaryPatch('erf'));
    replace('GatherV2', gatherPatch);
    replace('Slice', slicePatch);
  }
  return unpatchWasmKernels;
}

export function unpatchWasmKernels(): void {
  for (const [name, cfg] of patched) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(cfg);
  }
  patched.clear();
}
