/**
 * `info` and `verify` of a sharded index: the published set, and every
 * shard as published in it, described or verified as an ordinary index;
 * then the whole opened as one and searched (stored vectors find
 * themselves through the fan-out and merge).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Engine } from '../../engine.js';
import { errorMessage } from '../../errors.js';
import { readCurrentShardSet, readShardedMarker, shardWorkDir, type ShardSet } from '../../index/sharded/layout.js';
import { kLockFile, processAlive, readLock, type LockInfo } from '../lock.js';
import { readCheckpoint } from '../checkpoint.js';
import { jobPaths } from '../workdir.js';

/** What this file needs of one index's description (inspect.ts's IndexDescription; not imported, so inspect.ts can import this file). */
export interface ShardDescriptionLike {
  readonly manifest: { readonly counts: { readonly count: number } } | null;
  readonly totalBytes: number;
  readonly problems: readonly string[];
}

/** One check of a verification (as inspect.ts's VerifyCheck). */
export interface ShardVerifyCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** A verification report (as inspect.ts's VerifyReport). */
export interface ShardVerifyReport {
  readonly dir: string;
  readonly version: string | null;
  readonly ok: boolean;
  readonly checks: readonly ShardVerifyCheck[];
}

/** What `info` says of a sharded index. */
export interface ShardedDescription<D extends ShardDescriptionLike = ShardDescriptionLike> {
  readonly dir: string;
  readonly shardCount: number;
  /** The published set `current` names; null before the first. */
  readonly version: string | null;
  readonly versions: readonly string[];
  readonly set: ShardSet | null;
  /** Each shard as published in the set (empty before the first). */
  readonly shards: readonly D[];
  /** Shards with a job in progress or stopped (resumable). */
  readonly jobs: readonly { readonly shard: number; readonly phase: string; readonly read: number }[];
  readonly lock: (LockInfo & { readonly alive: boolean }) | null;
  readonly count: number;
  readonly totalBytes: number;
  readonly problems: readonly string[];
}

/**
 * Describes a sharded index directory (no checksum work).
 * @param dir - the sharded index directory.
 * @param describe - how one index directory is described (`inspectIndex`).
 * @returns the description.
 * @throws {VecforgeError} ERR_INDEX_CORRUPT when the marker or set does not parse.
 */
export function inspectShardedIndex<D extends ShardDescriptionLike>(dir: string, describe: (dir: string) => D): ShardedDescription<D> {
  const abs = resolve(dir);
  const marker = readShardedMarker(abs);
  const current = readCurrentShardSet(abs);
  const shards = current === undefined ? [] : current.set.shards.map((s) => describe(join(current.path, s.name)));
  const jobs: { shard: number; phase: string; read: number }[] = [];
  for (let i = 0; i < marker.shards; i++) {
    const cp = existsSync(shardWorkDir(abs, i)) ? readCheckpoint(jobPaths(shardWorkDir(abs, i))) : undefined;
    if (cp !== undefined) jobs.push({ shard: i, phase: cp.phase, read: cp.committed.counts.read });
  }
  const lockInfo = readLock(join(abs, kLockFile));
  const versionsDir = join(abs, 'versions');
  return {
    dir: abs,
    shardCount: marker.shards,
    version: current?.name ?? null,
    versions: existsSync(versionsDir) ? readdirSync(versionsDir).filter((n) => /^v\d{6}$/.test(n)).sort() : [],
    set: current?.set ?? null,
    shards,
    jobs,
    lock: lockInfo !== null ? { ...lockInfo, alive: processAlive(lockInfo.pid) } : null,
    count: shards.reduce((a, s) => a + (s.manifest?.counts.count ?? 0), 0),
    totalBytes: shards.reduce((a, s) => a + s.totalBytes, 0),
    problems: shards.flatMap((s, i) => s.problems.map((p) => `shard ${i}: ${p}`)),
  };
}

/**
 * Verifies a sharded index: every shard of the current set as an index of
 * its own (checksums, counts, graph, self search), the set's counts
 * against the shards', and self search through the merged whole.
 * @param dir - the sharded index directory.
 * @param engine - an engine running the index's model.
 * @param verifyOne - how one index directory is verified (`verifyIndex`).
 * @returns the checks, each shard's prefixed with its name.
 */
export async function verifyShardedIndex(dir: string, engine: Engine, verifyOne: (dir: string, engine: Engine) => Promise<ShardVerifyReport>): Promise<ShardVerifyReport> {
  const abs = resolve(dir);
  const checks: ShardVerifyCheck[] = [];
  let current: ReturnType<typeof readCurrentShardSet>;
  try {
    current = readCurrentShardSet(abs);
    if (current === undefined) throw new Error('no published set (no "current" file)');
    checks.push({ name: 'set', ok: true, detail: `${current.name} lists ${current.set.shards.length} shards` });
  } catch (error) {
    checks.push({ name: 'set', ok: false, detail: errorMessage(error) });
    return { dir: abs, version: null, ok: false, checks };
  }
  for (const s of current.set.shards) {
    const report = await verifyOne(join(current.path, s.name), engine);
    for (const c of report.checks) checks.push({ name: `${s.name} ${c.name}`, ok: c.ok, detail: c.detail });
  }
  if (checks.every((c) => c.ok)) {
    const index = await engine.openIndex(abs);
    try {
      const expected = current.set.shards.reduce((a, s) => a + s.count, 0);
      checks.push({ name: 'counts', ok: index.count === expected, detail: `${index.count} documents over the shards (set: ${expected})` });
      const ids = index.ids();
      const sample = Math.min(ids.length, 20);
      const step = Math.max(1, Math.floor(ids.length / Math.max(1, sample)));
      let found = 0;
      for (let i = 0, n = 0; n < sample && i < ids.length; i += step, n++) {
        const id = ids[i] as string;
        const vector = index.getVector(id);
        if (vector === undefined) continue;
        const hits = await index.search(vector, { k: Math.min(10, index.count) });
        if (hits.some((h) => h.id === id)) found++;
      }
      checks.push({ name: 'merged self search', ok: sample === 0 || found >= Math.ceil(sample * 0.9), detail: `${found} of ${sample} sampled items find themselves in the merged top 10` });
    } finally {
      await index.close();
    }
  }
  return { dir: abs, version: current.name, ok: checks.every((c) => c.ok), checks };
}
