/**
 * The doc store: label ↔ id ↔ namespace ↔ metadata ↔ content hash, in lmdb
 * (msgpackr encoding built in). This is the only file importing lmdb.
 */
import { open, type Database, type RootDatabase } from 'lmdb';
import { VecforgeError } from '../errors.js';

/** What the store keeps per label. */
export interface DocRecord {
  readonly id: string;
  readonly namespace: string;
  readonly metadata: Readonly<Record<string, unknown>> | null;
  /** Content hash of the text the vector came from, or null for given vectors. */
  readonly hash: string | null;
}

/** An lmdb doc store file. */
export class DocStore {
  readonly #root: RootDatabase;
  readonly #docs: Database<DocRecord, number>;

  private constructor(root: RootDatabase) {
    this.#root = root;
    this.#docs = root.openDB<DocRecord, number>({ name: 'docs', keyEncoding: 'uint32' });
  }

  /**
   * Opens (or creates) a store file.
   * @param path - the lmdb data file (no sub-directory; a `-lock` file sits beside it).
   * @param readOnly - open without write access.
   * @returns the store.
   * @throws {VecforgeError} ERR_IO when lmdb cannot open it.
   */
  static open(path: string, readOnly = false): DocStore {
    try {
      return new DocStore(open({ path, noSubdir: true, readOnly, compression: false, maxDbs: 4 }));
    } catch (error) {
      throw new VecforgeError('ERR_IO', `cannot open doc store ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  /**
   * Writes every record in one transaction.
   * @param records - label and record pairs.
   */
  writeAll(records: Iterable<readonly [number, DocRecord]>): void {
    this.#root.transactionSync(() => {
      for (const [label, record] of records) void this.#docs.put(label, record);
    });
  }

  /**
   * Applies changes in one transaction: removes labels, then writes records.
   * @param removed - labels to remove (unknown ones are ignored).
   * @param records - label and record pairs to write.
   */
  applyChanges(removed: Iterable<number>, records: Iterable<readonly [number, DocRecord]>): void {
    this.#root.transactionSync(() => {
      for (const label of removed) void this.#docs.remove(label);
      for (const [label, record] of records) void this.#docs.put(label, record);
    });
  }

  /**
   * Reads every record, in label order.
   * @returns label and record pairs.
   */
  *entries(): Generator<readonly [number, DocRecord]> {
    for (const { key, value } of this.#docs.getRange()) yield [key, value] as const;
  }

  /** Records in the store. */
  get count(): number {
    return this.#docs.getCount();
  }

  /** Flushes and closes. */
  async close(): Promise<void> {
    await this.#root.close();
  }
}
