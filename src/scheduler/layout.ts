/**
 * Shared-memory layout of one embedding call (the "slab"). The main thread
 * fills texts, offsets and order before the first batch is posted; workers
 * fill rows of `out` and `status`. Nothing else crosses the thread boundary
 * but the small batch message ({@link EmbedRequest}).
 *
 * Memory order: workers write `out`/`status` with plain stores, then resolve
 * the Piscina task, which posts a message; message passing orders those
 * stores before the main thread's reads in the task's continuation, so no
 * Atomics are needed on the data itself.
 */

/**
 * The shared buffers of one window of an embedding call. Windows of a call
 * share `order`, `out` and `status`; each has its own text bytes.
 */
export interface EmbedSlab {
  /** UTF-8 bytes of the window's texts, back to back. */
  readonly textBytes: SharedArrayBuffer;
  /** Uint32[window + 1]: item base + j is bytes [offsets[j], offsets[j + 1]). */
  readonly offsets: SharedArrayBuffer;
  /** Index of the window's first item in the call. */
  readonly base: number;
  /** Uint32[n]: item indexes in batch order (length-sorted within windows). */
  readonly order: SharedArrayBuffer;
  /** Float32[n × dims]: row i is item i's vector, in input order. */
  readonly out: SharedArrayBuffer;
  /** Uint8[n]: per-item outcome code (kItem* in models/embedder.ts). */
  readonly status: SharedArrayBuffer;
  /** Vector dims. */
  readonly dims: number;
}

/** The buffers every window of a call shares. */
export interface CallBuffers {
  readonly order: SharedArrayBuffer;
  readonly out: SharedArrayBuffer;
  readonly status: SharedArrayBuffer;
  readonly dims: number;
}

/** Index of the fault counter in the fault SharedArrayBuffer. */
export const kFaultCountSlot = 0;

/**
 * Allocates the buffers of a call of `n` items.
 * @param n - items.
 * @param dims - vector dims.
 * @returns zeroed shared buffers.
 */
export function createCallBuffers(n: number, dims: number): CallBuffers {
  return {
    order: new SharedArrayBuffer(Math.max(1, n) * 4),
    out: new SharedArrayBuffer(Math.max(1, n * dims) * 4),
    status: new SharedArrayBuffer(Math.max(1, n)),
    dims,
  };
}

const encoder = new TextEncoder();

/**
 * Encodes one window's texts into a slab over the call's buffers. The
 * window is first encoded as one joined string: when that is pure ASCII
 * (bytes = UTF-16 units, the common case), offsets follow from the lengths
 * with no per-item work. Otherwise each text is checked and encoded alone,
 * and a text with a lone surrogate is dropped (include[i] = 0).
 * @param call - the call's shared buffers.
 * @param texts - the call's texts.
 * @param base - the window's first item.
 * @param end - one past its last item.
 * @param include - which items to encode (others get zero-length ranges); cleared for malformed texts.
 * @param lengths - UTF-16 length of every included item.
 * @returns the slab.
 */
export function createSlab(call: CallBuffers, texts: readonly unknown[], base: number, end: number, include: Uint8Array, lengths: Uint32Array): EmbedSlab {
  const offsets = new SharedArrayBuffer((end - base + 1) * 4);
  const offs = new Uint32Array(offsets);
  const parts: string[] = [];
  let total = 0;
  for (let i = base; i < end; i++) {
    if (include[i] !== 1) continue;
    parts.push(texts[i] as string);
    total += lengths[i] ?? 0;
  }
  const joined = parts.join('');
  let textBytes = new SharedArrayBuffer(Math.max(1, total));
  const ascii = encoder.encodeInto(joined, new Uint8Array(textBytes));
  if (ascii.read === total && ascii.written === total) {
    let pos = 0;
    for (let i = base; i < end; i++) {
      offs[i - base] = pos;
      if (include[i] === 1) pos += lengths[i] ?? 0;
    }
    offs[end - base] = pos;
  } else {
    // length × 3 bounds the UTF-8 size of any string; encodeInto fills less.
    textBytes = new SharedArrayBuffer(Math.max(1, total * 3));
    const bytes = new Uint8Array(textBytes);
    let pos = 0;
    for (let i = base; i < end; i++) {
      offs[i - base] = pos;
      if (include[i] !== 1) continue;
      const text = texts[i] as string;
      if (!text.isWellFormed()) include[i] = 0;
      else pos += encoder.encodeInto(text, bytes.subarray(pos)).written;
    }
    offs[end - base] = pos;
  }
  return { textBytes, offsets, base, order: call.order, out: call.out, status: call.status, dims: call.dims };
}
