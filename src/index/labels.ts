/**
 * The label bookkeeping of an index: which record each 32-bit graph label
 * holds, the id → label map, the live and per-namespace bitsets, and the
 * doc store file a save starts from. An index opened with `lazyDocs` keeps
 * its verified doc store undecoded here until the first use that needs it.
 */
import { VecforgeError, errorMessage } from '../errors.js';
import { DocStore, type DocRecord, type DocTable } from '../store/doc-store.js';
import { LabelBitset } from './filter.js';

/** The verified doc store of a version, not decoded yet. */
interface PendingDocs {
  readonly path: string;
  readonly count: number;
  readonly dir: string;
}

/** Records by label, and the sets searches filter on. */
export class LabelTable {
  readonly idToLabel = new Map<string, number>();
  readonly docs: Array<DocRecord | undefined> = [];
  readonly namespaces = new Map<string, LabelBitset>();
  readonly #live = new LabelBitset();
  #liveCount = 0;
  /** Bumped by every change: cached filter bitsets are valid while it holds. */
  #mutations = 0;
  /**
   * The doc store file of the version last opened or saved, and the labels
   * written and removed since: a save copies that file and applies only
   * the changes, instead of writing every record again.
   */
  #base: string | null = null;
  readonly #written = new Set<number>();
  /** The verified doc store not decoded yet (opened with `lazyDocs`): decoded by {@link LabelTable.ensure}. */
  #pending: PendingDocs | null = null;
  /** Why decoding the doc store failed (lazyDocs): every later use throws it. */
  #error: unknown = null;

  /** Live records. */
  get liveCount(): number {
    return this.#liveCount;
  }

  /** The change counter (see {@link LabelTable.remember}). */
  get mutations(): number {
    return this.#mutations;
  }

  /** The doc store file later saves start from; null when none. */
  get base(): string | null {
    return this.#base;
  }

  /** Labels written or removed since the doc store of {@link LabelTable.base}. */
  get written(): ReadonlySet<number> {
    return this.#written;
  }

  /** The manifest's count while the doc store is not decoded; null once it is. */
  get pendingCount(): number | null {
    return this.#pending?.count ?? null;
  }

  /** Whether the doc store is decoded (and did not fail to). */
  get loaded(): boolean {
    return this.#pending === null && this.#error === null;
  }

  /**
   * Takes a verified doc store to decode on first use.
   * @param path - its file.
   * @param count - the manifest's count.
   * @param dir - the index directory, for messages.
   */
  defer(path: string, count: number, dir: string): void {
    this.#pending = { path, count, dir };
  }

  /**
   * Decodes a deferred doc store, if not done yet (synchronously: the store
   * is read whole). Every use of the records calls it first.
   * @throws {VecforgeError} ERR_INDEX_CORRUPT when the store does not decode or its count disagrees with the manifest (again on every later call).
   */
  ensure(): void {
    if (this.#error !== null) throw this.#error;
    const pending = this.#pending;
    if (pending === null) return;
    this.#pending = null;
    try {
      const store = DocStore.open(pending.path, true);
      let table: DocTable;
      try {
        table = store.readTable();
      } finally {
        store.close().catch(() => {});
      }
      this.take(table, pending.path, pending.count, pending.dir);
    } catch (error) {
      this.#error = error instanceof VecforgeError ? error : new VecforgeError('ERR_INDEX_CORRUPT', `index ${pending.dir}: the doc store does not decode: ${errorMessage(error)}`, { cause: error });
      throw this.#error;
    }
  }

  /**
   * Takes the records of a version's doc store, and checks their count against the manifest.
   * @param table - every live record of the store.
   * @param path - the store's file (later saves start from it).
   * @param count - the manifest's count.
   * @param dir - the index directory, for messages.
   * @throws {VecforgeError} ERR_INDEX_CORRUPT when the counts disagree.
   */
  take(table: DocTable, path: string, count: number, dir: string): void {
    this.#rememberSaved(table);
    if (this.#liveCount !== count) {
      throw new VecforgeError('ERR_INDEX_CORRUPT', `index ${dir}: doc store holds ${this.#liveCount} items, the manifest says ${count}`);
    }
    this.saved(path);
  }

  /**
   * Records a label's record (written since the last save).
   * @param label - the label.
   * @param record - the record.
   */
  remember(label: number, record: DocRecord): void {
    this.docs[label] = record;
    this.#written.add(label);
    this.idToLabel.set(record.id, label);
    this.#live.set(label);
    this.#liveCount++;
    let ns = this.namespaces.get(record.namespace);
    if (ns === undefined) {
      ns = new LabelBitset();
      this.namespaces.set(record.namespace, ns);
    }
    ns.set(label);
    this.#mutations++;
  }

  /**
   * What {@link LabelTable.remember} does for each record of the doc
   * store being opened, at once: the store's bitsets are taken as they are.
   * @param table - every live record of the version's doc store.
   */
  #rememberSaved(table: DocTable): void {
    const docs = this.docs;
    const ids = this.idToLabel;
    const records = table.records;
    for (let label = 0; label < records.length; label++) {
      const record = records[label];
      // Pushed, undefined included, to keep the array's elements packed.
      if (label >= docs.length) docs.push(record);
      else if (record !== undefined) docs[label] = record;
      if (record !== undefined) ids.set(record.id, label);
    }
    const bitsetOf = (bytes: Uint8Array): LabelBitset => {
      const bits = new LabelBitset(bytes.length * 8);
      bits.bytes.set(bytes);
      return bits;
    };
    this.#live.or(bitsetOf(table.live));
    for (const [name, bytes] of table.namespaces) {
      const ns = this.namespaces.get(name);
      if (ns === undefined) this.namespaces.set(name, bitsetOf(bytes));
      else ns.or(bitsetOf(bytes));
    }
    this.#liveCount += table.count;
    this.#mutations++;
  }

  /**
   * Removes a label's record, if it has one.
   * @param label - the label.
   */
  forget(label: number): void {
    const record = this.docs[label];
    if (record === undefined) return;
    this.docs[label] = undefined;
    this.idToLabel.delete(record.id);
    this.#live.clear(label);
    this.#liveCount--;
    this.namespaces.get(record.namespace)?.clear(label);
    this.#mutations++;
  }

  /**
   * Records the doc store file that now holds every record: later saves start from it.
   * @param path - the file.
   */
  saved(path: string): void {
    this.#base = path;
    this.#written.clear();
  }

  /** @returns the labels of the live records, ascending. */
  liveLabels(): number[] {
    const labels: number[] = [];
    for (let label = 0; label < this.docs.length; label++) if (this.docs[label] !== undefined) labels.push(label);
    return labels;
  }

  /**
   * Items per namespace.
   * @param name - the namespace.
   * @returns its live records.
   */
  namespaceCount(name: string): number {
    const ns = this.namespaces.get(name);
    let n = 0;
    if (ns !== undefined) for (const b of ns.bytes) n += popcount(b);
    return n;
  }
}

function popcount(b: number): number {
  let n = 0;
  for (let x = b; x !== 0; x &= x - 1) n++;
  return n;
}
