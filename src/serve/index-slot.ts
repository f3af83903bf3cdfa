/**
 * One served index directory: the open version searches use, the writes
 * applied to it since the last save (pending), and the switch to a version
 * another process published.
 *
 * Searches take a reference on the open version and finish on it even when
 * a newer one replaces it meanwhile; a replaced version is closed when its
 * last search ends. Writes, saves and switches run one at a time. A switch
 * re-applies the pending writes to the newly published version before it
 * serves, so nothing acknowledged is dropped by a reload; the pending
 * writes are published on top of it by the next save.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Engine, type IndexItem, type IndexItemOutcome, type IndexStats, VecforgeError, type VectorIndex } from '../index.js';

/** A write applied since the last save. */
type PendingOp = { readonly kind: 'upsert'; readonly items: readonly IndexItem[] } | { readonly kind: 'delete'; readonly ids: readonly string[] };

/** An open version and the searches using it. */
interface Live {
  readonly index: VectorIndex;
  readonly version: string | null;
  refs: number;
  retired: boolean;
}

/** What a save did. */
export interface SaveResult {
  /** The version now published. */
  readonly version: string | null;
  /** Writes published by this save (0: nothing was pending). */
  readonly saved: number;
}

/**
 * The version `DIR/current` names, read cheaply (one small file) for polling.
 * @param dir - the index directory.
 * @returns the version name, or null when none is published.
 */
export function publishedVersion(dir: string): string | null {
  try {
    return readFileSync(join(dir, 'current'), 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * The number in a version name (`v000012` → 12), for the metrics.
 * @param version - the name.
 * @returns the number, or 0.
 */
export function versionNumber(version: string | null): number {
  const m = version === null ? null : /^v(\d+)$/.exec(version);
  return m === null ? 0 : Number(m[1]);
}

/** One served index. Open with {@link IndexSlot.open}. */
export class IndexSlot {
  readonly name: string;
  readonly dir: string;
  readonly #engine: Engine;
  #live: Live;
  /** Bumped when a write starts and ends and when a version is switched in: part of every cache key. */
  #generation = 0;
  #pending: PendingOp[] = [];
  #pendingCount = 0;
  /** Serialises writes, saves and switches. */
  #lock: Promise<unknown> = Promise.resolve();
  #reloads = 0;
  #closed = false;

  private constructor(engine: Engine, name: string, dir: string, index: VectorIndex) {
    this.#engine = engine;
    this.name = name;
    this.dir = dir;
    this.#live = { index, version: index.stats().version, refs: 0, retired: false };
  }

  /**
   * Opens the current version of a directory.
   * @param engine - the engine.
   * @param name - the name in URLs.
   * @param dir - the directory.
   * @returns the slot.
   * @throws {VecforgeError} ERR_INDEX, ERR_INDEX_CORRUPT or ERR_INDEX_VERSION.
   */
  static async open(engine: Engine, name: string, dir: string): Promise<IndexSlot> {
    return new IndexSlot(engine, name, dir, await engine.openIndex(dir));
  }

  /** The version searches use now. */
  get version(): string | null {
    return this.#live.version;
  }

  /** Writes applied and not yet saved. */
  get pendingCount(): number {
    return this.#pendingCount;
  }

  /** Versions switched in since the slot opened. */
  get reloads(): number {
    return this.#reloads;
  }

  /**
   * Runs a read on the current version; a switch meanwhile does not close it under the read.
   * @param fn - the read; `scope` identifies the searched state for cache keys; `version` is the version read.
   * @returns what `fn` returns.
   * @throws {VecforgeError} ERR_CLOSED when the slot is closed.
   */
  async read<T>(fn: (index: VectorIndex, scope: string, version: string | null) => Promise<T>): Promise<T> {
    if (this.#closed) throw new VecforgeError('ERR_CLOSED', `index ${this.name} is closed`);
    const live = this.#live;
    live.refs++;
    try {
      return await fn(live.index, `${this.name}\0${live.version}\0${this.#generation}`, live.version);
    } finally {
      live.refs--;
      if (live.retired && live.refs === 0) await live.index.close();
    }
  }

  /**
   * The statistics of the current version, with the pending writes.
   * @returns the index's stats.
   */
  stats(): IndexStats {
    return this.#live.index.stats();
  }

  /**
   * Upserts items into the served version; ok items are pending until saved.
   * @param items - the items.
   * @returns one outcome per item.
   */
  upsert(items: readonly IndexItem[]): Promise<IndexItemOutcome[]> {
    return this.#locked(async () => {
      const outcomes = await this.#write(() => this.#live.index.upsert(items));
      const applied = items.filter((_, i) => outcomes[i]?.state === 'ok');
      if (applied.length > 0) {
        this.#pending.push({ kind: 'upsert', items: applied });
        this.#pendingCount += applied.length;
      }
      return outcomes;
    });
  }

  /**
   * Deletes ids from the served version; deletions are pending until saved.
   * @param ids - the ids.
   * @returns one outcome per id.
   */
  delete(ids: readonly string[]): Promise<IndexItemOutcome[]> {
    return this.#locked(async () => {
      const outcomes = await this.#write(() => this.#live.index.delete(ids));
      const applied = ids.filter((_, i) => outcomes[i]?.state === 'ok');
      if (applied.length > 0) {
        this.#pending.push({ kind: 'delete', ids: applied });
        this.#pendingCount += applied.length;
      }
      return outcomes;
    });
  }

  /**
   * Publishes the pending writes as a new version. When another process
   * published a version since, that version is switched in first (the
   * pending writes re-applied to it) and the save published on top of it.
   * @returns the version and how many writes it published.
   * @throws {VecforgeError} ERR_LOCKED while a job holds the directory (the writes stay pending).
   */
  save(): Promise<SaveResult> {
    return this.#locked(async () => {
      if (this.#pendingCount === 0) return { version: this.#live.version, saved: 0 };
      const saved = this.#pendingCount;
      let version: string;
      try {
        version = await this.#live.index.save();
      } catch (error) {
        if (!(error instanceof VecforgeError) || error.code !== 'ERR_CONFLICT') throw error;
        await this.#switchLocked();
        version = await this.#live.index.save();
      }
      // The saved index goes on serving: it is the published version now.
      this.#live = { index: this.#live.index, version, refs: this.#live.refs, retired: false };
      this.#pending = [];
      this.#pendingCount = 0;
      this.#generation++;
      return { version, saved };
    });
  }

  /**
   * Switches to the version another process published, if there is one:
   * opened in the background while searches go on, pending writes
   * re-applied, then swapped in at once.
   * @returns whether a new version was switched in.
   */
  async poll(): Promise<boolean> {
    if (this.#closed) return false;
    const published = publishedVersion(this.dir);
    if (published === null || published === this.#live.version) return false;
    return this.#locked(async () => {
      if (this.#closed || publishedVersion(this.dir) === this.#live.version) return false;
      await this.#switchLocked();
      return true;
    });
  }

  async #switchLocked(): Promise<void> {
    const index = await this.#engine.openIndex(this.dir);
    try {
      for (const op of this.#pending) {
        if (op.kind === 'upsert') await index.upsert(op.items);
        else await index.delete(op.ids);
      }
    } catch (error) {
      await index.close();
      throw error;
    }
    const old = this.#live;
    this.#live = { index, version: index.stats().version, refs: 0, retired: false };
    this.#generation++;
    this.#reloads++;
    old.retired = true;
    if (old.refs === 0) await old.index.close();
  }

  async #write<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new VecforgeError('ERR_CLOSED', `index ${this.name} is closed`);
    this.#generation++;
    try {
      return await fn();
    } finally {
      this.#generation++;
    }
  }

  #locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => {});
    return run;
  }

  /**
   * Closes the slot once the writes in progress end; the version in use
   * closes when its last search ends. Pending writes are lost unless saved first.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#locked(async () => {
      this.#closed = true;
      const live = this.#live;
      live.retired = true;
      if (live.refs === 0) await live.index.close();
    });
  }
}
