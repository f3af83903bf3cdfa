/**
 * Line digests: the SHA-256 of each JSONL line's bytes, by which a reindex
 * knows the lines it read before, and the matcher that finds them among
 * the known lines. The native addon does both a block at a time where it
 * is built; this file is the only one in `jobs/` that reaches it.
 */
import { hash } from 'node:crypto';
import { loadNativeLineDigests as loadAddonLineDigests, loadNativeMatchDigests, type NativeLineDigests, type NativeMatchDigests } from '../native/kernels.js';

/**
 * A line hasher: the digest of every line of `chunk[from, to)` that ends in
 * a newline (without the `\n`, and without a `\r` before it) into
 * `digests`, {@link kLineDigestBytes} bytes each, and each newline's index
 * into `ends`, until either is full; returns the lines hashed.
 */
export type LineHasher = NativeLineDigests;

/**
 * A digest matcher: for each of `count` digests (8 int32s each), in order,
 * the place of the equal known digest, looked for around `cursor[0]` first,
 * then in `table`; -1 when not found. Updates `cursor[0]`. See
 * {@link NativeMatchDigests} for the exact contract.
 */
export type DigestMatcher = NativeMatchDigests;

/**
 * The digest of a JSONL line's bytes (without its line break): SHA-256,
 * {@link kLineDigestBytes} bytes.
 * @param bytes - the line.
 * @returns the digest.
 */
export function lineDigest(bytes: Uint8Array): Uint8Array {
  return hash('sha256', bytes, 'buffer');
}

/** Bytes of a {@link lineDigest}. */
export const kLineDigestBytes = 32;

/**
 * The portable line hasher, with the contract of the native one
 * ({@link LineHasher}): one `crypto.hash` per line.
 */
export const hashLinesJs: LineHasher = (chunk, from, to, digests, ends) => {
  const capacity = Math.min(Math.floor(digests.length / kLineDigestBytes), ends.length);
  let n = 0;
  for (let start = from; n < capacity && start < to; n++) {
    const nl = chunk.indexOf(0x0a, start);
    if (nl === -1 || nl >= to) break;
    const e = nl > start && chunk[nl - 1] === 0x0d ? nl - 1 : nl;
    digests.set(lineDigest(chunk.subarray(start, e)), n * kLineDigestBytes);
    ends[n] = nl;
    start = nl + 1;
  }
  return n;
};

/**
 * The native line hasher, when the addon is built and loads, exports it,
 * finds Node's SHA-256, and `VECFORGE_NATIVE` is not `0`.
 * @returns the hasher, or undefined (callers then use {@link hashLinesJs}).
 */
export function loadNativeLineDigests(): LineHasher | undefined {
  return loadAddonLineDigests();
}

/**
 * The native digest matcher, when the addon is built, loads and exports
 * it, and `VECFORGE_NATIVE` is not `0`.
 * @returns the matcher, or undefined (callers then compare in JS).
 */
export function loadDigestMatcher(): DigestMatcher | undefined {
  return loadNativeMatchDigests();
}
