/**
 * The binding's compute kernels that have a JavaScript or TF.js twin: the
 * PCA projection, the line hasher and the digest matcher of jobs. Each
 * loader answers undefined where the binding is not built, does not load,
 * lacks the function, or `VECFORGE_NATIVE=0`; the caller then uses its
 * portable path, which gives the same results.
 */
import { loadNativeAddon, type NativeAddon } from './addon.js';

/** The binding when native kernels may be used, else undefined. */
function usableAddon(): NativeAddon | undefined {
  if (process.env['VECFORGE_NATIVE'] === '0') return undefined;
  const state = loadNativeAddon();
  return state.ok ? state.addon : undefined;
}

/**
 * The projection kernel: `out = (rows − mean) · weights`, each out row then
 * scaled to unit length when `normalize` (zero rows stay zero). It runs the
 * blocked, vectorised matmul of native/sgemm.h in the calling thread.
 * `mean` holds `inDims` values, `weights` is `inDims × outDims` row-major;
 * `out` must not overlap `rows`.
 */
export type NativeProjectRows = (rows: Float32Array, mean: Float32Array, weights: Float32Array, out: Float32Array, normalize: boolean) => Float32Array;

/**
 * The native projection kernel.
 * @returns the kernel, or undefined (callers then use TF.js).
 */
export function loadNativeProjectRows(): NativeProjectRows | undefined {
  const addon = usableAddon();
  if (addon === undefined || typeof addon.projectRows !== 'function') return undefined;
  return (rows, mean, weights, out, normalize) => addon.projectRows(rows, mean, weights, out, normalize);
}

/**
 * The line hasher: the SHA-256 of every line of `chunk[from, to)` that ends
 * in a newline (without the `\n`, and without a `\r` before it) into
 * `digests`, 32 bytes each, and each newline's index into `ends`, until
 * either is full; returns the lines hashed. One call per read instead of one
 * `crypto.hash` per line.
 */
export type NativeLineDigests = (chunk: Uint8Array, from: number, to: number, digests: Uint8Array, ends: Int32Array) => number;

let gLineDigests: NativeLineDigests | null | undefined;

/**
 * The native line hasher, where the binding also finds Node's SHA-256
 * (checked once on a known line).
 * @returns the hasher, or undefined (callers then hash each line with node:crypto).
 */
export function loadNativeLineDigests(): NativeLineDigests | undefined {
  if (process.env['VECFORGE_NATIVE'] === '0') return undefined;
  if (gLineDigests !== undefined) return gLineDigests ?? undefined;
  gLineDigests = null;
  const addon = usableAddon();
  if (addon === undefined || typeof addon.lineDigests !== 'function') return undefined;
  const fn: NativeLineDigests = (chunk, from, to, digests, ends) => addon.lineDigests(chunk, from, to, digests, ends);
  try {
    // SHA-256("abc"), FIPS 180-2's first example.
    const digests = new Uint8Array(32);
    if (fn(Buffer.from('abc\n'), 0, 4, digests, new Int32Array(1)) !== 1) return undefined;
    if (Buffer.from(digests).toString('hex') !== 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad') return undefined;
  } catch {
    return undefined;
  }
  gLineDigests = fn;
  return fn;
}

/**
 * The digest matcher: for each of `count` digests (8 int32s each), in
 * order, the place of the equal known digest, looked for first at
 * `cursor[0]` (the next expected place), then in the window from
 * `cursor[0] - cursor[1]` up to `cursor[0] + cursor[2]`, then in `table`
 * (open addressing on a digest's first int32; slots hold place + 1, 0 is
 * empty; a power-of-two length); -1 when not found (the expected place
 * then moves on by one). Updates `cursor[0]`.
 */
export type NativeMatchDigests = (known: Int32Array, cursor: Int32Array, digests: Int32Array, count: number, positions: Int32Array, table: Int32Array) => void;

/**
 * The native digest matcher.
 * @returns the matcher, or undefined (callers then compare in JS).
 */
export function loadNativeMatchDigests(): NativeMatchDigests | undefined {
  const addon = usableAddon();
  if (addon === undefined || typeof addon.matchDigests !== 'function') return undefined;
  return (known, cursor, digests, count, positions, table) => addon.matchDigests(known, cursor, digests, count, positions, table);
}

/**
 * The BERT encoder's native ops (native/bert_ops.cc), all in the calling
 * thread on Float32Arrays: `linearRows` (x · Wᵀ + b with a PyTorch-layout
 * weight read in place, optional GELU: 1 erf, 2 tanh), `attentionRows`
 * (multi-head self-attention over sequences packed back to back) and
 * `layerNormRows` (LayerNorm(x + residual) in place).
 */
export interface NativeBertOps {
  linearRows(x: Float32Array, weight: Float32Array, bias: Float32Array, out: Float32Array, activation: number): Float32Array;
  attentionRows(q: Float32Array, k: Float32Array, v: Float32Array, lengths: Int32Array, heads: number, out: Float32Array): Float32Array;
  layerNormRows(x: Float32Array, residual: Float32Array | null, gamma: Float32Array, beta: Float32Array, eps: number): Float32Array;
}

/**
 * The native BERT ops.
 * @returns the ops, or undefined (the BERT kernel then runs on TF.js).
 */
export function loadNativeBertOps(): NativeBertOps | undefined {
  const addon = usableAddon();
  if (addon === undefined || typeof addon.linearRows !== 'function' || typeof addon.attentionRows !== 'function' || typeof addon.layerNormRows !== 'function') return undefined;
  return {
    linearRows: (x, weight, bias, out, activation) => addon.linearRows(x, weight, bias, out, activation),
    attentionRows: (q, k, v, lengths, heads, out) => addon.attentionRows(q, k, v, lengths, heads, out),
    layerNormRows: (x, residual, gamma, beta, eps) => addon.layerNormRows(x, residual, gamma, beta, eps),
  };
}

/** The BM25 kernel: see {@link NativeAddon.bm25Search}. */
export type NativeBm25Search = NativeAddon['bm25Search'];

/**
 * The native BM25 walk and top-k selection of the lexical index.
 * @returns the kernel, or undefined (the index then walks its postings in JavaScript, to the same scores).
 */
export function loadNativeBm25Search(): NativeBm25Search | undefined {
  const addon = usableAddon();
  if (addon === undefined || typeof addon.bm25Search !== 'function') return undefined;
  return (...args) => addon.bm25Search(...args);
}
