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

/** The shared buffers of one embedding call. */
export interface EmbedSlab {
  /** UTF-8 bytes of every text, back to back. */
  readonly textBytes: SharedArrayBuffer;
  /** Uint32[n + 1]: text i is bytes [offsets[i], offsets[i + 1]). */
  readonly offsets: SharedArrayBuffer;
  /** Uint32[m]: item indexes in batch order (length-sorted within windows). */
  readonly order: SharedArrayBuffer;
  /** Float32[n × dims]: row i is item i's vector, in input order. */
  readonly out: SharedArrayBuffer;
  /** Uint8[n]: per-item outcome code (kItem* in models/embedder.ts). */
  readonly status: SharedArrayBuffer;
  /** Vector dims. */
  readonly dims: number;
}

/** Index of the fault counter in the fault SharedArrayBuffer. */
export const kFaultCountSlot = 0;

/**
 * Encodes texts into a fresh slab.
 * @param texts - the texts, indexed like the items.
 * @param include - which items to encode (others get zero-length ranges).
 * @param dims - vector dims.
 * @returns the slab and byte views for the caller.
 */
export function createSlab(texts: readonly string[], include: Uint8Array, dims: number): EmbedSlab {
  const n = texts.length;
  let total = 0;
  for (let i = 0; i < n; i++) if (include[i] === 1) total += Buffer.byteLength(texts[i] ?? '', 'utf8');
  const textBytes = new SharedArrayBuffer(Math.max(1, total));
  const offsets = new SharedArrayBuffer((n + 1) * 4);
  const bytes = new Uint8Array(textBytes);
  const offs = new Uint32Array(offsets);
  const encoder = new TextEncoder();
  let pos = 0;
  for (let i = 0; i < n; i++) {
    offs[i] = pos;
    if (include[i] === 1) pos += encoder.encodeInto(texts[i] ?? '', bytes.subarray(pos)).written;
  }
  offs[n] = pos;
  return {
    textBytes,
    offsets,
    order: new SharedArrayBuffer(Math.max(1, n) * 4),
    out: new SharedArrayBuffer(Math.max(1, n * dims) * 4),
    status: new SharedArrayBuffer(Math.max(1, n)),
    dims,
  };
}
