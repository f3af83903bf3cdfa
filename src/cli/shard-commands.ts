/**
 * `vecforge build --shards N` and `vecforge reindex` on a sharded index:
 * the coordinator. Without `--queue` the shard jobs run in this process,
 * one after another; with `--queue redis://…` they go to BullMQ workers
 * (`vecforge worker`), and this process follows them and publishes the set.
 * Events are printed as one JSON line each on stderr (`--progress off`
 * silences them).
 */
import type { ResolvedConfig } from '../config/resolve.js';
import { localShardRunner, runShardedJob, type ShardedEvent, type ShardedJobSummary, type ShardRunner } from '../jobs/shards/run.js';
import type { CliConfig } from './cli-config.js';
import { kExitInterrupted, kExitOk, kExitPartial } from './exit-codes.js';
import { lexicalFlagsGiven, lexicalFromConfig } from './lexical-flags.js';
import { pcaFromConfig } from './pca-flags.js';
import { onInterrupt } from './signals.js';
import { UsageError } from './usage-error.js';

/** The scale-out flags of a job command. */
export interface ShardFlags {
  /** --shards N (a new index needs it; an existing one keeps its count). */
  readonly shards?: number | undefined;
  /** --queue redis://HOST:PORT[/DB]. */
  readonly queue?: string | undefined;
  /** --attempts: tries per shard job before it fails. */
  readonly attempts?: number | undefined;
}

/**
 * Parses a count flag (`--shards`, `--attempts`).
 * @param flag - the flag, for the message.
 * @param raw - its text; undefined when not given.
 * @param max - the largest allowed.
 * @returns the count, or undefined.
 * @throws {UsageError} unless an integer in [1, max].
 */
export function parseCount(flag: string, raw: string | undefined, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} must be an integer in [1, ${max}], got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * Checks a --queue URL before any work.
 * @param url - the URL.
 * @throws {UsageError} naming what is wrong (the password hidden).
 */
export async function checkQueueUrl(url: string): Promise<void> {
  const { parseRedisUrl } = await import('../queue/connection.js');
  try {
    parseRedisUrl(url);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function logEvent(config: ResolvedConfig): (e: ShardedEvent) => void {
  if (config.output.progress === 'off') return () => {};
  return (e) => process.stderr.write(`${JSON.stringify(e)}\n`);
}

/**
 * Runs a sharded build or reindex.
 * @param command - build or reindex.
 * @param cli - the resolved config.
 * @param flags - the scale-out flags.
 * @returns the exit code: 0, 3 when some records failed, 130 interrupted.
 * @throws {UsageError} for a missing --input or directory.
 */
export async function runShardedCommand(command: 'build' | 'reindex', cli: CliConfig, flags: ShardFlags): Promise<number> {
  const { config } = cli;
  const { job, index } = config;
  if (job.input === undefined) throw new UsageError(`${command} needs --input PATH (or job.input in the config)`);
  if (job.dir === undefined) throw new UsageError(`${command} needs ${command === 'build' ? '--out DIR' : '--index DIR'} (or job.dir in the config)`);
  if (job.format === 'csv') throw new UsageError('a sharded job reads JSONL input (--format csv is not supported with --shards or --queue)');
  if (job.refitPca) throw new UsageError('--refit-pca is not supported on a sharded index');
  const pca = command === 'build' || job.full ? pcaFromConfig(cli) : undefined;
  // Every shard gets the same lexical options (a sharded index's shards must share them).
  const lexical = command === 'build' || job.full ? lexicalFromConfig(cli) : undefined;
  const lexicalFlags = lexicalFlagsGiven(cli);
  if (command === 'reindex' && !job.full && lexicalFlags.length > 0) throw new UsageError(`${lexicalFlags.join(', ')}: the lexical options apply to a new index: add --full to rebuild the shards with them`);
  const stop = new AbortController();
  const off = onInterrupt(() => {
    process.stderr.write('\nvecforge: stopping: the running shard stops at its next checkpoint; rerun the same command to resume\n');
    stop.abort();
  });
  let runner: ShardRunner | Promise<ShardRunner>;
  let closeRunner = async (): Promise<void> => {};
  if (flags.queue !== undefined) {
    await checkQueueUrl(flags.queue);
    const url = flags.queue;
    // Not awaited here: loading BullMQ and asking Redis (~0.25 s) run while the input is split; runShardedJob awaits the runner before queueing anything.
    const opening = import('../queue/coordinator.js').then(({ openCoordinator }) => openCoordinator({ url, ...(flags.attempts !== undefined ? { attempts: flags.attempts } : {}) }));
    runner = opening.then((c) => c.runner);
    closeRunner = async () => {
      // A coordinator that never opened has nothing to close; its error is runShardedJob's (or lost to an earlier one).
      const c = await opening.catch(() => undefined);
      await c?.close();
    };
  } else runner = localShardRunner({ ...config.engine }, { stopSignal: stop.signal });
  let summary: ShardedJobSummary;
  try {
    summary = await runShardedJob(
      {
        kind: command,
        dir: job.dir,
        input: job.input,
        shards: flags.shards,
        model: config.engine.model,
        fields: { id: job.idField, text: job.textField, namespace: job.namespaceField, metadata: job.metadataField },
        chunkSize: job.chunkSize,
        checkpointItems: job.checkpointItems,
        checkpointSeconds: job.checkpointSeconds,
        snippetChars: job.snippetChars,
        maxRecordBytes: job.maxRecordBytes,
        embeddingCache: job.embeddingCache,
        index: { space: index.space, m: index.m, efConstruction: index.efConstruction, efSearch: index.efSearch, ...(pca !== undefined ? { pca } : {}), ...(lexical !== undefined ? { lexical } : {}) },
        keepMissing: job.keepMissing,
        full: job.full,
        command: `vecforge ${process.argv.slice(2).join(' ')}`,
        signal: flags.queue !== undefined ? stop.signal : undefined,
        onEvent: logEvent(config),
      },
      runner,
    );
  } finally {
    off();
    await closeRunner();
  }
  printShardedSummary(command, summary, config.output.json);
  if (summary.state === 'interrupted') return kExitInterrupted;
  return summary.state === 'partial' ? kExitPartial : kExitOk;
}

function printShardedSummary(command: 'build' | 'reindex', s: ShardedJobSummary, json: boolean): void {
  if (json) {
    const shards = s.shards.map((r) => ({ shard: r.shard, state: r.state, records: r.records, counts: r.summary?.counts ?? null, seconds: r.summary !== null ? Number(r.summary.seconds.toFixed(3)) : null }));
    process.stdout.write(`${JSON.stringify({ ...s, seconds: Number(s.seconds.toFixed(3)), itemsPerSecond: Math.round(s.itemsPerSecond), shards })}\n`);
    return;
  }
  const c = s.counts;
  if (s.state === 'interrupted') {
    process.stdout.write(`interrupted; the shards' progress is checkpointed. To resume, run the same command again.\n`);
    return;
  }
  const ran = s.shards.filter((r) => r.state === 'ran').length;
  const what = command === 'build' ? `${c.added} documents` : `${c.added} added, ${c.updated} updated, ${c.deleted} deleted, ${c.unchanged} unchanged`;
  const published = s.published ? `published set ${s.version}` : `nothing changed; set ${s.version ?? 'none'} stays current`;
  process.stdout.write(`${command === 'build' ? 'built' : 'reindexed'} ${s.dir}: ${what} in ${s.shards.length} shards (${ran} rebuilt, ${s.shards.length - ran} unchanged); ${published}\n`);
  process.stdout.write(`  ${c.read} records in ${s.seconds.toFixed(2)}s; split ${(s.splitMs / 1000).toFixed(2)}s, shard jobs ${(s.jobsMs / 1000).toFixed(2)}s\n`);
  for (const r of s.shards) {
    const sc = r.summary?.counts;
    process.stdout.write(`  shard ${String(r.shard).padStart(3)}: ${r.records} records, ${r.state === 'ran' && sc !== undefined ? `${sc.added} added, ${sc.updated} updated, ${sc.deleted} deleted, ${sc.failed} failed` : 'unchanged'}\n`);
  }
  if (c.failed > 0) process.stdout.write(`  ${c.failed} records failed: see ${s.errorsFile ?? `${s.dir}/errors.jsonl`} and each shard's errors.jsonl under ${s.dir}/shards\n`);
}
