/**
 * The embedding cache: model id + content hash → the model's output vector,
 * in one lmdb file shared by every index and every process on the machine
 * (lmdb is multi-process safe), so unchanged text is never embedded twice.
 * The cache is an optimisation only: a missing, unreadable or malformed
 * entry is a miss, and a vector is always what the model produced for the
 * text (raw model output, before the index normalises it).
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { VecforgeError } from '../errors.js';

/**
 * Address space reserved for the map (not disk: the file grows as written).
 * Reserved up front because every growth of the map makes lmdb remap it,
 * and the first reads after a remap fault their pages in again (measured:
 * tens of ms per chunk of lookups while a job writes).
 */
const kMapSizeBytes = 64 * 2 ** 30;

/** The cache file name inside the engine cache directory. */
export const kEmbeddingCacheFile = 'embeddings.lmdb';

/**
 * The default cache file for an engine cache directory.
 * @param cacheDir - the engine's `cacheDir`.
 * @returns the lmdb file path.
 */
export function embeddingCachePath(cacheDir: string): string {
  return join(cacheDir, kEmbeddingCacheFile);
}

/** Counts of one cache since it was opened. */
export interface EmbeddingCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly writes: number;
}

/** An open embedding cache. */
export class EmbeddingCache {
  readonly #root: RootDatabase;
  readonly #vectors: Database<Buffer, string>;
  readonly #path: string;
  #hits = 0;
  #misses = 0;
  #writes = 0;
  #closed = false;

  private constructor(root: RootDatabase, path: string) {
    this.#root = root;
    this.#path = path;
    this.#vectors = root.openDB<Buffer, string>({ name: 'vectors', encoding: 'binary' });
  }

  /**
   * Opens (or creates) a cache file.
   * @param path - the lmdb data file; its directory is created when missing.
   * @returns the cache.
   * @throws {VecforgeError} ERR_CACHE when lmdb cannot open it.
   */
  static open(path: string): EmbeddingCache {
    try {
      mkdirSync(dirname(path), { recursive: true });
      return new EmbeddingCache(open({ path, noSubdir: true, compression: false, maxDbs: 4, mapSize: kMapSizeBytes }), path);
    } catch (error) {
      throw new VecforgeError('ERR_CACHE', `cannot open the embedding cache ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  /** The cache file. */
  get path(): string {
    return this.#path;
  }

  /**
   * Looks vectors up.
   * @param modelId - the prepared model's id (`engine.model.id`).
   * @param hashes - content hashes (`contentHash(text)`).
   * @param dims - the model's dims; an entry of another length is a miss.
   * @returns one vector or undefined per hash, in order.
   */
  getMany(modelId: string, hashes: readonly string[], dims: number): Array<Float32Array | undefined> {
    this.#checkOpen();
    return hashes.map((hash) => {
      let bytes: Buffer | undefined;
      try {
        bytes = this.#vectors.get(key(modelId, hash));
      } catch {
        bytes = undefined;
      }
      if (bytes === undefined || bytes.byteLength !== dims * 4) {
        this.#misses++;
        return undefined;
      }
      // Copied out: lmdb may hand back memory it reuses, and the copy is aligned.
      const v = new Float32Array(dims);
      new Uint8Array(v.buffer).set(bytes);
      for (let d = 0; d < dims; d++) {
        if (!Number.isFinite(v[d])) {
          this.#misses++;
          return undefined;
        }
      }
      this.#hits++;
      return v;
    });
  }

  /**
   * Stores vectors in one transaction.
   * @param modelId - the model id.
   * @param entries - content hash and vector pairs.
   * @returns when the transaction is committed.
   */
  async putMany(modelId: string, entries: ReadonlyArray<readonly [string, Float32Array]>): Promise<void> {
    this.#checkOpen();
    if (entries.length === 0) return;
    await this.#root.transaction(() => {
      for (const [hash, vector] of entries) void this.#vectors.put(key(modelId, hash), Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength));
    });
    this.#writes += entries.length;
  }

  /** Entries in the cache (all models). */
  get count(): number {
    this.#checkOpen();
    return this.#vectors.getCount();
  }

  /**
   * Hits, misses and writes since the cache was opened.
   * @returns the counts.
   */
  stats(): EmbeddingCacheStats {
    return { hits: this.#hits, misses: this.#misses, writes: this.#writes };
  }

  /** Flushes and closes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#root.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new VecforgeError('ERR_CLOSED', 'the embedding cache is closed');
  }
}

function key(modelId: string, hash: string): string {
  return `${modelId}:${hash}`;
}
