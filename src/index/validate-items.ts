/**
 * Checks the items of a write once, at the public boundary: ids, the one
 * of text and vector, namespaces, metadata, dims and finiteness. Each bad
 * item gets its own failed outcome; the others go on.
 */
import type { DocRecord } from '../store/doc-store.js';
import { contentHash } from '../store/record.js';
import type { HnswSpace } from './hnsw/core.js';
import { kDefaultNamespace } from './options.js';
import { coreReady, normProblem } from './vector-norm.js';
import type { IndexItem, IndexItemFailureCode, IndexItemOutcome } from './types.js';

/** The longest id, in UTF-8 bytes. */
const kMaxIdBytes = 1024;
/**
 * The deepest metadata: objects and arrays nested at most this deep (the
 * metadata object itself is depth 1). Deeper records overflowed the stack of
 * every later search, save and job that walked them.
 */
export const kMaxMetadataDepth = 32;
/** The largest metadata, as JSON in UTF-8 bytes. */
export const kMaxMetadataBytes = 64 * 1024;

/**
 * Why metadata cannot be stored: nested too deep (cyclic included), too
 * large as JSON, or not serialisable. The depth walk is iterative and
 * bounded, so the check itself cannot overflow the stack; JSON.stringify
 * runs only on metadata it found shallow enough.
 * @param metadata - a plain object.
 * @returns the reason, or null when it can be stored.
 */
export function metadataProblem(metadata: object): string | null {
  const stack: Array<{ value: object; depth: number }> = [{ value: metadata, depth: 1 }];
  // Every value costs at least one byte of JSON: a walk longer than the size bound is over it.
  let budget = kMaxMetadataBytes;
  while (stack.length > 0) {
    const { value, depth } = stack.pop() as { value: object; depth: number };
    if (depth > kMaxMetadataDepth) return `metadata is nested deeper than ${kMaxMetadataDepth} levels`;
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      if (--budget < 0) return `metadata is larger than ${kMaxMetadataBytes} bytes as JSON`;
      const child = (value as Record<string, unknown>)[key];
      if (child !== null && typeof child === 'object') stack.push({ value: child, depth: depth + 1 });
    }
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(metadata);
  } catch (error) {
    return `metadata is not serialisable as JSON: ${error instanceof Error ? error.message : String(error)}`;
  }
  const bytes = json === undefined ? 0 : Buffer.byteLength(json);
  return bytes > kMaxMetadataBytes ? `metadata is ${bytes} bytes as JSON, more than ${kMaxMetadataBytes}` : null;
}

/** A text item that passed the checks. */
export interface TextWrite {
  readonly at: number;
  readonly id: string;
  readonly text: string;
  readonly label: number;
  readonly record: DocRecord;
}

/** A vector item that passed the checks. */
export interface VectorWrite {
  readonly at: number;
  readonly id: string;
  readonly vector: Float32Array;
  /** The text the vector stands for: indexed lexically, not embedded. */
  readonly text: string | undefined;
  readonly label: number;
  readonly record: DocRecord;
}

/** The items of a write, checked. */
export interface CheckedItems {
  readonly texts: TextWrite[];
  readonly vectors: VectorWrite[];
}

/**
 * Builds a failed outcome.
 * @param id - the item's id, or null when it has none.
 * @param code - why.
 * @param reason - a message.
 * @returns the outcome.
 */
export function failed(id: string | null, code: IndexItemFailureCode, reason: string): IndexItemOutcome {
  return { state: 'failed', id, code, reason };
}

/**
 * Checks every item, writing failed outcomes in place.
 * @param items - the items as given.
 * @param outcomes - one slot per item; failed ones are filled.
 * @param context - the index's dims, space, the model's dims, whether ids may exist (upsert), the id lookup, and the label taker.
 * @returns the items that passed, with their labels and records.
 */
export function checkItems(
  items: readonly IndexItem[],
  outcomes: IndexItemOutcome[],
  context: { readonly dims: number; readonly space: HnswSpace; readonly modelDims: number; readonly replace: boolean; has(id: string): boolean; take(): number },
): CheckedItems {
  const { dims, modelDims, replace } = context;
  const seen = new Set<string>();
  const texts: TextWrite[] = [];
  const vectors: VectorWrite[] = [];
  items.forEach((raw, at) => {
    const item = raw as unknown;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      outcomes[at] = failed(null, 'INVALID_ITEM', 'item must be an object { id, text | vector, metadata?, namespace? }');
      return;
    }
    const { id, text, vector, metadata, namespace, hash } = item as Record<string, unknown>;
    if (typeof id !== 'string' || id === '' || Buffer.byteLength(id) > kMaxIdBytes) {
      outcomes[at] = failed(typeof id === 'string' ? id : null, 'INVALID_ID', `id must be a non-empty string of at most ${kMaxIdBytes} bytes`);
      return;
    }
    if (seen.has(id)) {
      outcomes[at] = failed(id, 'DUPLICATE_ID', 'id appears earlier in the same batch; the first occurrence is used');
      return;
    }
    seen.add(id);
    if (!replace && context.has(id)) {
      outcomes[at] = failed(id, 'EXISTS', 'id is already in the index; use upsert to replace it');
      return;
    }
    if (text === undefined && vector === undefined) {
      outcomes[at] = failed(id, 'INVALID_ITEM', 'item must have a text or a vector (or both)');
      return;
    }
    const ns = namespace ?? kDefaultNamespace;
    if (typeof ns !== 'string' || ns === '' || ns.length > 256) {
      outcomes[at] = failed(id, 'INVALID_NAMESPACE', 'namespace must be a non-empty string of at most 256 characters');
      return;
    }
    if (metadata !== undefined && (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))) {
      outcomes[at] = failed(id, 'INVALID_METADATA', 'metadata must be a plain object');
      return;
    }
    const metaProblem = metadata === undefined ? null : metadataProblem(metadata);
    if (metaProblem !== null) {
      outcomes[at] = failed(id, 'INVALID_METADATA', metaProblem);
      return;
    }
    const meta = (metadata ?? null) as Readonly<Record<string, unknown>> | null;
    if (vector !== undefined) {
      let v: Float32Array;
      if (vector instanceof Float32Array) v = vector;
      else if (Array.isArray(vector) && vector.every((x) => typeof x === 'number')) v = Float32Array.from(vector as number[]);
      else {
        outcomes[at] = failed(id, 'INVALID_ITEM', 'vector must be a Float32Array or an array of numbers');
        return;
      }
      if (v.length !== dims) {
        outcomes[at] = failed(id, 'WRONG_DIMS', `vector has ${v.length} dims, the index has ${dims}`);
        return;
      }
      for (let d = 0; d < dims; d++) {
        if (!Number.isFinite(v[d])) {
          outcomes[at] = failed(id, 'NON_FINITE', `vector component ${d} is ${String(v[d])}`);
          return;
        }
      }
      const range = normProblem(v, context.space);
      if (range !== null) {
        outcomes[at] = failed(id, 'NON_FINITE', range);
        return;
      }
      if (hash !== undefined && (typeof hash !== 'string' || hash === '' || hash.length > 128)) {
        outcomes[at] = failed(id, 'INVALID_ITEM', 'hash must be a non-empty string of at most 128 characters');
        return;
      }
      if (text !== undefined && typeof text !== 'string') {
        outcomes[at] = failed(id, 'NOT_A_STRING', `text must be a string, got ${text === null ? 'null' : typeof text}`);
        return;
      }
      vectors.push({ at, id, vector: coreReady(v, context.space), text, label: context.take(), record: { id, namespace: ns, metadata: meta, hash: hash ?? (text !== undefined ? contentHash(text) : null) } });
      return;
    }
    if (dims !== modelDims) {
      outcomes[at] = failed(id, 'WRONG_DIMS', `the index has ${dims} dims but the model embeds ${modelDims}; add vectors instead of texts`);
      return;
    }
    if (typeof text !== 'string') {
      outcomes[at] = failed(id, 'NOT_A_STRING', `text must be a string, got ${text === null ? 'null' : typeof text}`);
      return;
    }
    texts.push({ at, id, text, label: context.take(), record: { id, namespace: ns, metadata: meta, hash: contentHash(text) } });
  });
  return { texts, vectors };
}
