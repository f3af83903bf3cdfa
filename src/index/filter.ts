/**
 * Metadata filters, evaluated in JS once per query into a label bitset that
 * native search tests per candidate (no call back into JS per candidate).
 */

/** A numeric range. */
export interface RangeCondition {
  readonly $gt?: number;
  readonly $gte?: number;
  readonly $lt?: number;
  readonly $lte?: number;
}

/** Membership in a list. */
export interface InCondition {
  readonly $in: readonly unknown[];
}

/** One field's condition: a plain value means equality. */
export type FieldCondition = string | number | boolean | null | InCondition | RangeCondition;

/** Every field must match (AND). */
export type MetadataFilter = Readonly<Record<string, FieldCondition>>;

const kRangeKeys = new Set(['$gt', '$gte', '$lt', '$lte']);

/**
 * Checks a filter's shape.
 * @param filter - the filter as given.
 * @returns a compiled predicate over metadata.
 * @throws {TypeError} naming the field whose condition is malformed.
 */
export function compileFilter(filter: unknown): (metadata: Readonly<Record<string, unknown>> | null) => boolean {
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) throw new TypeError('options.filter must be an object of field conditions');
  const tests: Array<(m: Readonly<Record<string, unknown>>) => boolean> = [];
  for (const [field, cond] of Object.entries(filter as Record<string, unknown>)) {
    if (cond === null || typeof cond !== 'object') {
      if (cond !== null && !['string', 'number', 'boolean'].includes(typeof cond)) {
        throw new TypeError(`options.filter.${field} must be a string, number, boolean, null, { $in: [...] } or a range { $gt, $gte, $lt, $lte }`);
      }
      tests.push((m) => m[field] === cond);
      continue;
    }
    if (Array.isArray(cond)) throw new TypeError(`options.filter.${field} must be a value, { $in: [...] } or a range; use { $in: [...] } for a list`);
    const keys = Object.keys(cond);
    if (keys.length === 1 && keys[0] === '$in') {
      const list = (cond as InCondition).$in;
      if (!Array.isArray(list)) throw new TypeError(`options.filter.${field}.$in must be an array`);
      const set = new Set(list);
      tests.push((m) => set.has(m[field]));
      continue;
    }
    if (keys.length === 0 || keys.some((k) => !kRangeKeys.has(k))) {
      throw new TypeError(`options.filter.${field} must be a value, { $in: [...] } or a range with $gt, $gte, $lt, $lte; got keys ${keys.join(', ') || 'none'}`);
    }
    const r = cond as RangeCondition;
    for (const k of keys) {
      const v = (r as Record<string, unknown>)[k];
      if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`options.filter.${field}.${k} must be a number`);
    }
    tests.push((m) => {
      const v = m[field];
      if (typeof v !== 'number') return false;
      return (r.$gt === undefined || v > r.$gt) && (r.$gte === undefined || v >= r.$gte) && (r.$lt === undefined || v < r.$lt) && (r.$lte === undefined || v <= r.$lte);
    });
  }
  return (m) => m !== null && tests.every((t) => t(m));
}

/** A growable bitset over labels. */
export class LabelBitset {
  #bytes: Uint8Array;

  /** @param capacity - labels to hold at first. */
  constructor(capacity = 1024) {
    this.#bytes = new Uint8Array(Math.max(1, Math.ceil(capacity / 8)));
  }

  /** The bytes, for native search (bit `label & 7` of byte `label >> 3`). */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** @param label - sets its bit. */
  set(label: number): void {
    const byte = label >>> 3;
    if (byte >= this.#bytes.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.#bytes.length * 2));
      grown.set(this.#bytes);
      this.#bytes = grown;
    }
    this.#bytes[byte] = (this.#bytes[byte] ?? 0) | (1 << (label & 7));
  }

  /** @param label - clears its bit. */
  clear(label: number): void {
    const byte = label >>> 3;
    if (byte < this.#bytes.length) this.#bytes[byte] = (this.#bytes[byte] ?? 0) & ~(1 << (label & 7));
  }

  /**
   * ORs another bitset into this one.
   * @param other - the other bitset.
   */
  or(other: LabelBitset): void {
    const b = other.bytes;
    if (b.length > this.#bytes.length) {
      const grown = new Uint8Array(b.length);
      grown.set(this.#bytes);
      this.#bytes = grown;
    }
    for (let i = 0; i < b.length; i++) this.#bytes[i] = (this.#bytes[i] ?? 0) | (b[i] ?? 0);
  }

  /**
   * ANDs another bitset into this one.
   * @param other - the other bitset.
   */
  and(other: LabelBitset): void {
    const b = other.bytes;
    for (let i = 0; i < this.#bytes.length; i++) this.#bytes[i] = (this.#bytes[i] ?? 0) & (b[i] ?? 0);
  }
}
