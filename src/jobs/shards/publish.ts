/**
 * Publishing a set of shard versions: each shard's current version is
 * linked (hard links: published files are never written again) into the
 * set's version directory as an index directory of its own, the set file
 * is written, and `current` is swapped by one atomic rename. Readers that
 * opened the previous set keep reading it; it stays on disk until two
 * newer sets are published.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { VecforgeError } from '../../errors.js';
import { currentVersion, kKeptVersions } from '../../index/persist.js';
import { kShardSetFile, shardName, shardWorkDir, type ShardSet, type ShardSetEntry } from '../../index/sharded/layout.js';
import { fsyncDir, writeFileAtomicSync } from '../../store/atomic.js';
import { currentManifest, forkIndex } from '../workdir.js';

/** What each shard contributes to a set. */
export interface ShardPublishInput {
  readonly inputSha256: string;
  readonly inputRecords: number;
}

/**
 * The name of the next set version of a sharded index directory.
 * @param dir - the sharded index directory.
 * @returns `v000001` for the first, else one past the newest on disk.
 */
export function nextSetName(dir: string): string {
  let max = 0;
  try {
    for (const entry of readdirSync(join(dir, 'versions'))) {
      const m = /^v(\d{6})$/.exec(entry);
      if (m !== null) max = Math.max(max, Number(m[1]));
    }
  } catch {
    // No versions yet.
  }
  return `v${String(max + 1).padStart(6, '0')}`;
}

/**
 * Publishes the shards' current versions as set `name` of `dir`.
 * @param dir - the sharded index directory.
 * @param name - the set version (see {@link nextSetName}).
 * @param inputs - per shard, the input it was built from.
 * @param job - what the job did (kept in the set file).
 * @returns the set's entries.
 * @throws {VecforgeError} ERR_INDEX when a shard has no published version; ERR_IO when a write fails (the previous set stays current).
 */
export function publishShardSet(dir: string, name: string, inputs: readonly ShardPublishInput[], job: Readonly<Record<string, unknown>>): ShardSetEntry[] {
  const path = join(dir, 'versions', name);
  rmSync(path, { recursive: true, force: true });
  const entries: ShardSetEntry[] = [];
  try {
    inputs.forEach((input, i) => {
      const from = shardWorkDir(dir, i);
      const current = currentManifest(from);
      if (current === undefined) throw new VecforgeError('ERR_INDEX', `shard ${shardName(i)} (${from}) has no published version to put in set ${name}`);
      forkIndex(from, join(path, shardName(i)));
      entries.push({ name: shardName(i), shardVersion: current.name, inputSha256: input.inputSha256, inputRecords: input.inputRecords, count: current.manifest.counts.count });
    });
    const set: ShardSet = { formatVersion: 1, createdAt: new Date().toISOString(), shards: entries, job };
    writeFileAtomicSync(join(path, kShardSetFile), `${JSON.stringify(set, null, 2)}\n`);
    fsyncDir(path);
  } catch (error) {
    rmSync(path, { recursive: true, force: true });
    if (error instanceof VecforgeError) throw error;
    throw new VecforgeError('ERR_IO', `cannot write set ${name} of ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  // The one rename that publishes the set.
  writeFileAtomicSync(join(dir, 'current'), `${name}\n`);
  const names = readdirSync(join(dir, 'versions'))
    .filter((n) => /^v\d{6}$/.test(n))
    .sort();
  for (const old of names.slice(0, Math.max(0, names.length - kKeptVersions))) rmSync(join(dir, 'versions', old), { recursive: true, force: true });
  for (const n of names) if (n > name) rmSync(join(dir, 'versions', n), { recursive: true, force: true });
  return entries;
}

/**
 * The name of a shard's current version, or null when it has none.
 * @param dir - the sharded index directory.
 * @param i - the shard.
 * @returns the version name or null.
 */
export function shardCurrentName(dir: string, i: number): string | null {
  try {
    return currentVersion(shardWorkDir(dir, i))?.name ?? null;
  } catch {
    return null;
  }
}
