/**
 * The SIF sentence-vector kernel as a WebAssembly SIMD function over the
 * shared GloVe table: the same math as the fused JS loop (weighted sum of
 * word rows, common component removed, L2 normalisation), four lanes at a
 * time, with the accumulator in registers. The module is generated for one
 * `dims` and imports the table's shared memory, so every worker runs it
 * over the one copy of the table.
 */

/** A WebAssembly memory (the tsconfig's libs carry no WebAssembly types). */
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  /** Grows by `pages` of 64 KiB; returns the old size in pages; throws RangeError past the maximum. */
  grow(pages: number): number;
}

interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
}

const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** Bytes of a WebAssembly page. */
export const kWasmPageBytes = 65_536;

/**
 * Allocates a shared WebAssembly memory of at least `bytes`, growable by
 * `extraPages` (scratch pages kernels claim with `grow`).
 * @param bytes - the initial size.
 * @param extraPages - pages it may grow by.
 * @returns the memory, or undefined when WebAssembly is unavailable.
 */
export function createSharedMemory(bytes: number, extraPages: number): WasmMemory | undefined {
  if (wasmApi === undefined) return undefined;
  const initial = Math.max(1, Math.ceil(bytes / kWasmPageBytes));
  const maximum = Math.min(65_536, initial + extraPages);
  if (initial > maximum) return undefined;
  return new wasmApi.Memory({ initial, maximum, shared: true });
}

/** Dims the generated kernel supports: a multiple of 4, at most this. */
export const kSifWasmMaxDims = 512;

/** The exported kernel. */
export interface SifWasm {
  /**
   * Writes the SIF vector of the `n` rows at `rowsPtr` (i32 each) to `outPtr`.
   * @returns 1 (the row may be zero when every word is on the common component).
   */
  sif(rowsPtr: number, n: number, vectorsPtr: number, weightsPtr: number, pcPtr: number, outPtr: number): number;
}

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};

const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};

const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

// Opcodes (WebAssembly core 2.0 and its SIMD proposal).
const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const kBlock = 0x02;
const kLoop = 0x03;
const kEnd = 0x0b;
const kBr = 0x0c;
const kBrIf = 0x0d;
const kSelect = 0x1b;
const kGet = 0x20;
const kSet = 0x21;
const kTee = 0x22;
const kI32Load = 0x28;
const kF32Load = 0x2a;
const kI32Const = 0x41;
const kF32Const = 0x43;
const kI32GeU = 0x4f;
const kF32Gt = 0x5e;
const kI32Add = 0x6a;
const kI32Mul = 0x6c;
const kI32Shl = 0x74;
const kF32Add = 0x92;
const kF32Div = 0x95;
const kF32Sqrt = 0x91;
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const kV128Load = 0x00;
const kV128Store = 0x0b;
const kF32x4Splat = 0x13;
const kF32x4Extract = 0x1f;
const kF32x4Add = 0xe4;
const kF32x4Sub = 0xe5;
const kF32x4Mul = 0xe6;

/**
 * Builds the module bytes for `dims`.
 * @param dims - vector dims, a multiple of 4 up to {@link kSifWasmMaxDims}.
 * @returns the WebAssembly binary.
 */
export function sifWasmBytes(dims: number): Uint8Array {
  const lanes = dims / 4;
  // Locals: params 0..5 (rows, n, vectors, weights, pc, out), then r, row,
  // base (i32), w, acc[0..lanes), tmp (v128), norm (f32).
  const [pRows, pN, pVectors, pWeights, pPc, pOut] = [0, 1, 2, 3, 4, 5];
  const lR = 6;
  const lRow = 7;
  const lBase = 8;
  const lW = 9;
  const acc = (k: number): number => 10 + k;
  const lTmp = 10 + lanes;
  const lNorm = 11 + lanes;
  const get = (l: number): number[] => [kGet, ...uleb(l)];
  const set = (l: number): number[] => [kSet, ...uleb(l)];
  const mem = (align: number, offset: number): number[] => [...uleb(align), ...uleb(offset)];
  const hsum = (l: number): number[] => [
    ...get(l), ...simd(kF32x4Extract), 0,
    ...get(l), ...simd(kF32x4Extract), 1, kF32Add,
    ...get(l), ...simd(kF32x4Extract), 2, kF32Add,
    ...get(l), ...simd(kF32x4Extract), 3, kF32Add,
  ];
  const code: number[] = [];
  // Sum w(row) · vectors[row] over the rows.
  code.push(kBlock, 0x40, kLoop, 0x40);
  code.push(...get(lR), ...get(pN), kI32GeU, kBrIf, 1);
  code.push(...get(pRows), ...get(lR), kI32Const, 2, kI32Shl, kI32Add, kI32Load, ...mem(2, 0), kTee, ...uleb(lRow));
  code.push(kI32Const, 2, kI32Shl, ...get(pWeights), kI32Add, kF32Load, ...mem(2, 0), ...simd(kF32x4Splat), ...set(lW));
  code.push(...get(lRow), kI32Const, ...sleb(dims * 4), kI32Mul, ...get(pVectors), kI32Add, ...set(lBase));
  for (let k = 0; k < lanes; k++) {
    code.push(...get(acc(k)), ...get(lBase), ...simd(kV128Load), ...mem(0, k * 16), ...get(lW), ...simd(kF32x4Mul), ...simd(kF32x4Add), ...set(acc(k)));
  }
  code.push(...get(lR), kI32Const, 1, kI32Add, ...set(lR), kBr, 0, kEnd, kEnd);
  // tmp = Σ acc·pc lane-wise; proj = its lane sum, splatted.
  for (let k = 0; k < lanes; k++) {
    code.push(...get(acc(k)), ...get(pPc), ...simd(kV128Load), ...mem(0, k * 16), ...simd(kF32x4Mul));
    if (k > 0) code.push(...get(lTmp), ...simd(kF32x4Add));
    code.push(...set(lTmp));
  }
  code.push(...hsum(lTmp), ...simd(kF32x4Splat), ...set(lTmp));
  // acc -= proj · pc; tmp = Σ acc² lane-wise.
  for (let k = 0; k < lanes; k++) {
    code.push(...get(acc(k)), ...get(lTmp), ...get(pPc), ...simd(kV128Load), ...mem(0, k * 16), ...simd(kF32x4Mul), ...simd(kF32x4Sub), ...set(acc(k)));
  }
  for (let k = 0; k < lanes; k++) {
    code.push(...get(acc(k)), ...get(acc(k)), ...simd(kF32x4Mul));
    if (k > 0) code.push(...get(lTmp), ...simd(kF32x4Add));
    code.push(...set(lTmp));
  }
  // inv = norm > 0 ? 1 / sqrt(norm) : 0 (a zero vector stays zero).
  code.push(...hsum(lTmp), ...set(lNorm));
  code.push(kF32Const, 0, 0, 0x80, 0x3f, ...get(lNorm), kF32Sqrt, kF32Div);
  code.push(kF32Const, 0, 0, 0, 0);
  code.push(...get(lNorm), kF32Const, 0, 0, 0, 0, kF32Gt, kSelect);
  code.push(...simd(kF32x4Splat), ...set(lTmp));
  for (let k = 0; k < lanes; k++) {
    code.push(...get(pOut), ...get(acc(k)), ...get(lTmp), ...simd(kF32x4Mul), ...simd(kV128Store), ...mem(0, k * 16));
  }
  code.push(kI32Const, 1, kEnd);
  const locals = vec([
    [...uleb(3), I32],
    [...uleb(lanes + 2), V128],
    [...uleb(1), F32],
  ]);
  const body = [...locals, ...code];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32]]), ...vec([[I32]])]])),
    // A shared memory import: flags 3 = has maximum, shared; 1 .. 65536 pages.
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x03, ...uleb(1), ...uleb(65536)]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('sif'), 0x00, 0]])),
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ];
  return Uint8Array.from(bytes);
}

const modules = new Map<number, object>();

/**
 * Instantiates the kernel for `dims` over a shared memory.
 * @param memory - the shared memory that holds the table and the caller's scratch.
 * @param dims - vector dims.
 * @returns the kernel, or undefined when `dims` is unsupported or the
 *   runtime lacks WebAssembly SIMD (callers then use the JS loop).
 */
export function createSifWasm(memory: WasmMemory, dims: number): SifWasm | undefined {
  if (wasmApi === undefined) return undefined;
  if (dims % 4 !== 0 || dims < 4 || dims > kSifWasmMaxDims) return undefined;
  try {
    let module = modules.get(dims);
    if (module === undefined) {
      module = new wasmApi.Module(sifWasmBytes(dims));
      modules.set(dims, module);
    }
    const instance = new wasmApi.Instance(module, { env: { memory } });
    return instance.exports as unknown as SifWasm;
  } catch {
    return undefined;
  }
}
