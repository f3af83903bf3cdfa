/**
 * The layout of a sharded index directory: N shards, each an ordinary
 * vecforge index directory, and a versioned set of shard versions that
 * `current` names, swapped by one atomic rename as for a single index.
 *
 * ```
 * DIR/sharded.json                  { format: 'vecforge-sharded', shards: N }
 * DIR/shards/s000/ …                the shards' own index directories, where
 *                                   their build and reindex jobs run
 * DIR/current                       "v000002"
 * DIR/versions/v000002/set.json     the shard versions of this set
 * DIR/versions/v000002/s000/        shard 0 as published in this set: an
 *                                   index directory whose files are hard
 *                                   links to the shard's version
 * DIR/.staging/v000002/s000.jsonl   the shard inputs of the job that
 *                                   publishes v000002 (removed once it has)
 * ```
 *
 * A document belongs to shard `shardOf(id, N)`: the first 32 bits of the
 * SHA-256 of its id, modulo N. Stable across runs, machines and releases.
 */
import { hash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VecforgeError } from '../../errors.js';
import { currentVersion } from '../persist.js';

/** The marker file of a sharded index directory. */
export const kShardedMarkerFile = 'sharded.json';
/** The file of a published shard set, in its version directory. */
export const kShardSetFile = 'set.json';
/** The most shards an index may have. */
export const kMaxShards = 4096;

/** What `DIR/sharded.json` says. */
export interface ShardedMarker {
  readonly format: 'vecforge-sharded';
  readonly formatVersion: 1;
  readonly shards: number;
}

/** One shard of a published set. */
export interface ShardSetEntry {
  /** `s000`, `s001`, … */
  readonly name: string;
  /** The shard's version (in `DIR/shards/NAME`) this set holds. */
  readonly shardVersion: string;
  /** SHA-256 of the shard's input records, as the job that built it split them. */
  readonly inputSha256: string;
  readonly inputRecords: number;
  /** Live documents in the shard. */
  readonly count: number;
}

/** `DIR/versions/vNNNNNN/set.json`: a published set of shard versions. */
export interface ShardSet {
  readonly formatVersion: 1;
  readonly createdAt: string;
  readonly shards: readonly ShardSetEntry[];
  /** What the job that published the set did (kind, counts, source). */
  readonly job: Readonly<Record<string, unknown>>;
}

/**
 * The shard of a document id.
 * @param id - the document id.
 * @param shards - the shard count.
 * @returns an integer in [0, shards).
 */
export function shardOf(id: string, shards: number): number {
  return Number.parseInt(hash('sha256', id, 'hex').slice(0, 8), 16) % shards;
}

/**
 * The name of shard `i`.
 * @param i - the shard number.
 * @returns `s000`, `s001`, …
 */
export function shardName(i: number): string {
  return `s${String(i).padStart(3, '0')}`;
}

/**
 * The directory where shard `i`'s jobs run.
 * @param dir - the sharded index directory.
 * @param i - the shard number.
 * @returns its path.
 */
export function shardWorkDir(dir: string, i: number): string {
  return join(dir, 'shards', shardName(i));
}

/**
 * Whether a directory holds a sharded index (its marker file).
 * @param dir - a directory.
 * @returns true for a sharded index.
 */
export function isShardedIndex(dir: string): boolean {
  return existsSync(join(dir, kShardedMarkerFile));
}

/**
 * Reads the marker of a sharded index.
 * @param dir - the sharded index directory.
 * @returns the marker.
 * @throws {VecforgeError} ERR_INDEX_CORRUPT when it does not parse; ERR_INDEX_VERSION for a newer format.
 */
export function readShardedMarker(dir: string): ShardedMarker {
  const path = join(dir, kShardedMarkerFile);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new VecforgeError('ERR_INDEX_CORRUPT', `sharded index ${dir}: ${kShardedMarkerFile} is unreadable or not JSON`, { cause: error });
  }
  const m = raw as Partial<ShardedMarker> | null;
  if (m === null || typeof m !== 'object' || m.format !== 'vecforge-sharded') throw new VecforgeError('ERR_INDEX_CORRUPT', `sharded index ${dir}: ${kShardedMarkerFile} is not a vecforge-sharded marker`);
  if (m.formatVersion !== 1) throw new VecforgeError('ERR_INDEX_VERSION', `sharded index ${dir}: format version ${String(m.formatVersion)} is newer than this build reads (1)`);
  const n = m.shards;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > kMaxShards) throw new VecforgeError('ERR_INDEX_CORRUPT', `sharded index ${dir}: shard count ${String(n)} is not an integer in [1, ${kMaxShards}]`);
  return { format: 'vecforge-sharded', formatVersion: 1, shards: n };
}

/**
 * The published set `current` names.
 * @param dir - the sharded index directory.
 * @returns its name, version directory and set; undefined before the first publish.
 * @throws {VecforgeError} ERR_INDEX_CORRUPT when the set file is missing or does not match the marker.
 */
export function readCurrentShardSet(dir: string): { name: string; path: string; set: ShardSet } | undefined {
  const version = currentVersion(dir);
  if (version === undefined) return undefined;
  const marker = readShardedMarker(dir);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(version.path, kShardSetFile), 'utf8'));
  } catch (error) {
    throw new VecforgeError('ERR_INDEX_CORRUPT', `sharded index ${dir}: ${kShardSetFile} of ${version.name} is missing or not JSON`, { cause: error });
  }
  const set = raw as Partial<ShardSet> | null;
  const shards = set?.shards;
  if (set === null || typeof set !== 'object' || !Array.isArray(shards) || shards.length !== marker.shards) {
    throw new VecforgeError('ERR_INDEX_CORRUPT', `sharded index ${dir}: ${kShardSetFile} of ${version.name} does not list ${marker.shards} shards`);
  }
  shards.forEach((s: Partial<ShardSetEntry> | null, i: number) => {
    if (s === null || typeof s !== 'object' || s.name !== shardName(i) || typeof s.shardVersion !== 'string' || !/^v\d{6}$/.test(s.shardVersion) || typeof s.inputSha256 !== 'string') {
      throw new VecforgeError('ERR_INDEX_CORRUPT', `sharded index ${dir}: entry ${i} of ${kShardSetFile} in ${version.name} is not a valid shard entry`);
    }
  });
  return { name: version.name, path: version.path, set: set as ShardSet };
}

/**
 * The shard directories of the current set, in shard order: each an
 * ordinary index directory that `openIndex` opens.
 * @param dir - the sharded index directory.
 * @returns the set's version name and its shard directories.
 * @throws {VecforgeError} ERR_INDEX when nothing is published yet; ERR_INDEX_CORRUPT as {@link readCurrentShardSet}.
 */
export function currentShardDirs(dir: string): { name: string; dirs: string[]; set: ShardSet } {
  const current = readCurrentShardSet(dir);
  if (current === undefined) throw new VecforgeError('ERR_INDEX', `sharded index ${dir} holds no published version yet (no "current" file)`);
  return { name: current.name, set: current.set, dirs: current.set.shards.map((s) => join(current.path, s.name)) };
}
