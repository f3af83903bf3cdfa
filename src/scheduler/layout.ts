/**
 * Shared-memory layout of one embedding call (the "slab"). The main thread
 * fills texts, offsets and order before the first batch is posted; workers
 * fill rows of `out` and `status`. Nothing else crosses the thread boundary
 * but the small batch message ({@link EmbedRequest}).
 *
 * It also names every slot and state of the other shared Int32 headers:
 * the embed-run plan (kPlan*), the search cursor and the test fault counter.
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

/*
 * The embed-run plan: an Int32Array over a SharedArrayBuffer. The main
 * thread publishes batches as it packs windows; each run task claims them
 * one at a time from the shared cursor, so a worker goes from batch to
 * batch without a round trip through the main thread's event loop.
 *
 *   [kPlanPublishedSlot]  batches published so far (main thread writes)
 *   [kPlanNextSlot]       next batch to claim (workers Atomics.add)
 *   [kPlanStateSlot]      kPlanOpen | kPlanComplete | kPlanCancelled
 *   [3]                   reserved
 *   [kPlanHeaderInts + i × kPlanEntryInts + kEntry…]  batch i
 */

/** Plan slot: how many batches are published (Atomics.store by the main thread; workers wait on it). */
export const kPlanPublishedSlot = 0;
/** Plan slot: the next batch to claim (Atomics.add by workers). */
export const kPlanNextSlot = 1;
/** Plan slot: the plan's state, one of kPlanOpen, kPlanComplete, kPlanCancelled. */
export const kPlanStateSlot = 2;
/** Int32 slots before the first batch entry. */
export const kPlanHeaderInts = 4;
/** Int32 slots per batch entry. */
export const kPlanEntryInts = 4;

/** Plan state: batches may still be published. */
export const kPlanOpen = 0;
/** Plan state: every batch is published; runs end once none is left to claim. */
export const kPlanComplete = 1;
/** Plan state: the call was cancelled; runs stop after their current batch. */
export const kPlanCancelled = 2;

/** Batch entry field: the window whose slab the batch reads. */
export const kEntryWindow = 0;
/** Batch entry field: first position in `order`. */
export const kEntryStart = 1;
/** Batch entry field: one past the last position in `order`. */
export const kEntryEnd = 2;
/** Batch entry field: kBatchPending or kBatchDone. */
export const kEntryDone = 3;

/** Batch state: not finished (never claimed, or its run died). */
export const kBatchPending = 0;
/** Batch state: its rows and statuses are written. */
export const kBatchDone = 1;

/** Index of the fault counter in the fault SharedArrayBuffer (Int32[1]). */
export const kFaultCountSlot = 0;

/** Index of the next-query cursor in a search call's shared cursor (Int32[1], see SearchRequest.cursor). */
export const kSearchCursorSlot = 0;
/** Int32 slots in a search call's shared cursor. */
export const kSearchCursorInts = 1;

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
 * Encodes one window's texts into a slab over the call's buffers, as one
 * joined string in one encodeInto call. Pure ASCII (bytes = UTF-16 units,
 * the common case): offsets follow from the lengths. Otherwise, when the
 * joined string is well formed, offsets follow from the lengths plus the
 * extra bytes of the few non-ASCII characters, found four bytes at a time.
 * Only a window with a lone surrogate encodes text by text, and such a text
 * is dropped (include[i] = 0).
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
  // length × 3 bounds the UTF-8 size of any string; pages past what is written are never touched.
  const textBytes = new SharedArrayBuffer(Math.max(4, total * 3 + 3) & ~3);
  const bytes = new Uint8Array(textBytes);
  const written = encoder.encodeInto(joined, bytes).written;
  if (written === total || joined.isWellFormed()) {
    const wide = written === total ? [] : multiByteChars(bytes, written);
    // Byte offset of unit u = u + the extra bytes of the characters before it.
    let unit = 0;
    let extra = 0;
    let c = 0;
    for (let i = base; i < end; i++) {
      while (c < wide.length && (wide[c] as number) < unit) {
        extra += wide[c + 1] as number;
        c += 2;
      }
      offs[i - base] = unit + extra;
      if (include[i] === 1) unit += lengths[i] ?? 0;
    }
    offs[end - base] = written;
    return { textBytes, offsets, base, order: call.order, out: call.out, status: call.status, dims: call.dims };
  }
  let pos = 0;
  for (let i = base; i < end; i++) {
    offs[i - base] = pos;
    if (include[i] !== 1) continue;
    const text = texts[i] as string;
    if (!text.isWellFormed()) include[i] = 0;
    else pos += encoder.encodeInto(text, bytes.subarray(pos)).written;
  }
  offs[end - base] = pos;
  return { textBytes, offsets, base, order: call.order, out: call.out, status: call.status, dims: call.dims };
}

/**
 * The multi-byte characters of well-formed UTF-8, as pairs: the UTF-16
 * unit offset where the character starts, and the bytes it takes beyond
 * its UTF-16 units (2-byte sequences: 1; 3-byte: 2, both one unit; 4-byte:
 * 2, a surrogate pair). Scans four bytes at a time.
 * @param bytes - the encoded bytes (the buffer's length a multiple of 4).
 * @param length - how many bytes hold text.
 * @returns [unit, extra, unit, extra, ...] in order.
 */
function multiByteChars(bytes: Uint8Array, length: number): number[] {
  const out: number[] = [];
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, (length + 3) >> 2);
  let extra = 0;
  for (let w = 0; w < words.length; w++) {
    if (((words[w] as number) & 0x80808080) === 0) continue;
    for (let p = w << 2, stop = Math.min(length, p + 4); p < stop; p++) {
      const b = bytes[p] as number;
      if (b < 0xc0) continue; // ASCII or a continuation byte
      const size = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
      const more = size === 4 ? 2 : size - 1;
      out.push(p - extra, more);
      extra += more;
    }
  }
  return out;
}

