/**
 * The coordinator's side of the shard queue: one BullMQ job per shard job,
 * its id derived from the index directory, the set version, the split and
 * the shard (so a rerun finds the jobs it already queued, and a job done
 * stays done), then polling until every job has completed. Progress the
 * workers report becomes `shard-progress` events. A job that failed all
 * its attempts fails the build with its reason; Redis lost while waiting
 * is retried with backoff, and a job that Redis lost with it is queued
 * again (it resumes from its shard's checkpoint, or finds the shard built).
 */
import { hash } from 'node:crypto';
import { Queue, type Job } from 'bullmq';
import { VecforgeError, throwIfAborted } from '../errors.js';
import { shardName } from '../index/sharded/layout.js';
import type { ShardJobData } from '../jobs/shards/shard-job.js';
import type { ShardOutcome, ShardRunContext, ShardRunner } from '../jobs/shards/run.js';
import type { JobSummary } from '../jobs/types.js';
import { checkRedis, kShardQueueName, parseRedisUrl, queueConnection, type RedisTarget } from './connection.js';

/** Options of {@link openCoordinator}. */
export interface CoordinatorOptions {
  /** redis://HOST:PORT[/DB]. */
  readonly url: string;
  /** Tries per shard job. @default 3 */
  readonly attempts?: number;
  /** First retry delay of a failed shard job, doubling. @default 2000 */
  readonly backoffMs?: number;
  /** How often job states are read. @default 250 */
  readonly pollMs?: number;
  /** How long Redis may stay unreachable while waiting before the build fails. @default 600000 */
  readonly redisDownMs?: number;
  /** The BullMQ queue. @default 'vecforge-shards' */
  readonly queueName?: string;
}

/** Where the time of the queued jobs went, for the scale-out benchmark. */
export interface QueueTimes {
  /** ms from the first job queued to the last finished, as Redis's clocks saw it. */
  readonly makespanMs: number;
  /** ms of that span during which some worker was running a shard job. */
  readonly busyMs: number;
}

/** A coordinator: the runner that queues shard jobs, and its connection to close. */
export interface Coordinator {
  readonly runner: ShardRunner;
  /** Timing of the last run's jobs. */
  times(): QueueTimes | null;
  close(): Promise<void>;
}

type Resolved = Required<Omit<CoordinatorOptions, 'url'>>;

const kDefaults: Readonly<Resolved> = Object.freeze({ attempts: 3, backoffMs: 2000, pollMs: 250, redisDownMs: 600_000, queueName: kShardQueueName });

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The BullMQ job id of a shard job (BullMQ ids may not hold ':'). */
export function shardJobId(data: ShardJobData, runKey: string): string {
  return `${hash('sha256', data.dir, 'hex').slice(0, 12)}-${runKey}-${shardName(data.shard)}`;
}

/** Union of [start, end] intervals, ms. */
function busy(intervals: readonly (readonly [number, number])[]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = Number.NEGATIVE_INFINITY;
  for (const [s, e] of sorted) {
    if (e <= end) continue;
    total += e - Math.max(s, end);
    end = e;
  }
  return total;
}

/**
 * Connects to Redis (checked first, with a clear error) and returns a
 * runner that queues shard jobs on BullMQ.
 * @param options - url, attempts, backoff, polling.
 * @returns the coordinator.
 * @throws {TypeError} for a malformed URL; {VecforgeError} ERR_IO when Redis does not answer, ERR_CONFIG when BullMQ's driver is missing.
 */
export async function openCoordinator(options: CoordinatorOptions): Promise<Coordinator> {
  const o: Resolved & { url: string } = { ...kDefaults, ...options };
  if (!Number.isInteger(o.attempts) || o.attempts < 1 || o.attempts > 100) throw new RangeError(`attempts must be an integer in [1, 100], got ${String(o.attempts)}`);
  const target = parseRedisUrl(o.url);
  await checkRedis(target);
  const queue = new Queue(o.queueName, { connection: queueConnection(target) });
  // Connection errors surface in the polling loop, which retries them; unhandled they would crash.
  queue.on('error', () => {});
  let last: QueueTimes | null = null;
  const runner: ShardRunner = async (jobs, context) => {
    const outcomes = await runJobs(queue, target, o, jobs, context);
    last = outcomes.times;
    context.emit({ event: 'queue-times', makespanMs: Math.round(last.makespanMs), busyMs: Math.round(last.busyMs) });
    return outcomes.results;
  };
  return { runner, times: () => last, close: () => queue.close() };
}

async function addOrRetry(queue: Queue, data: ShardJobData, id: string, o: Resolved): Promise<void> {
  const existing = (await queue.getJob(id)) as Job | undefined;
  if (existing !== undefined) {
    // A job that failed in an earlier run is tried again; one done or under way is followed as it is.
    if ((await existing.getState()) === 'failed') await existing.retry('failed');
    return;
  }
  await queue.add('shard', data, { jobId: id, attempts: o.attempts, backoff: { type: 'exponential', delay: o.backoffMs }, removeOnComplete: { age: 7 * 86400 }, removeOnFail: { age: 7 * 86400 } });
}

async function runJobs(queue: Queue, target: RedisTarget, o: Resolved, jobs: readonly ShardJobData[], context: ShardRunContext): Promise<{ results: ShardOutcome[]; times: QueueTimes }> {
  const ids = jobs.map((j) => shardJobId(j, context.runKey));
  const results = new Map<number, JobSummary>();
  const intervals: [number, number][] = [];
  const lastProgress = new Map<number, string>();
  let firstQueued = Number.POSITIVE_INFINITY;
  let lastDone = 0;
  let downSince: number | null = null;
  let backoff = 200;
  let queued = false;
  while (results.size < jobs.length) {
    throwIfAborted(context.signal);
    try {
      if (!queued) {
        for (const [j, data] of jobs.entries()) {
          await addOrRetry(queue, data, ids[j] as string, o);
          context.emit({ event: 'shard-queued', shard: data.shard, jobId: ids[j] as string });
        }
        queued = true;
      }
      for (const [j, data] of jobs.entries()) {
        if (results.has(j)) continue;
        const id = ids[j] as string;
        const job = (await queue.getJob(id)) as Job | undefined;
        if (job === undefined) {
          // Redis lost the job (restarted without persistence): queue it again.
          await addOrRetry(queue, data, id, o);
          continue;
        }
        firstQueued = Math.min(firstQueued, job.timestamp);
        const state = await job.getState();
        if (state === 'completed') {
          const summary = job.returnvalue as JobSummary;
          results.set(j, summary);
          if (job.processedOn !== undefined && job.finishedOn !== undefined) intervals.push([job.processedOn, job.finishedOn]);
          lastDone = Math.max(lastDone, job.finishedOn ?? Date.now());
          context.emit({ event: 'shard-done', shard: data.shard, state: summary.state, counts: summary.counts, seconds: summary.seconds });
        } else if (state === 'failed') {
          // Read again: the job fetched above may predate its last attempt (state is read after it).
          const failed = ((await queue.getJob(id)) as Job | undefined) ?? job;
          throw new VecforgeError('ERR_INDEX', `shard job ${shardName(data.shard)} (${id}) failed after ${failed.attemptsMade} attempts: ${failed.failedReason ?? 'no reason given'}; the previous set stays current`);
        } else {
          const p = job.progress as { read?: number } | number | undefined;
          const key = JSON.stringify(p);
          if (typeof p === 'object' && p !== null && lastProgress.get(j) !== key) {
            lastProgress.set(j, key);
            context.emit({ event: 'shard-progress', shard: data.shard, read: p.read ?? 0, records: 0 });
          }
        }
      }
      downSince = null;
      backoff = 200;
      if (results.size < jobs.length) await sleep(o.pollMs);
    } catch (error) {
      if (error instanceof VecforgeError) throw error;
      // Anything else here is Redis going away: wait, with backoff, up to redisDownMs.
      const now = Date.now();
      downSince ??= now;
      if (now - downSince > o.redisDownMs) throw new VecforgeError('ERR_IO', `lost Redis at ${target.display} for over ${Math.round(o.redisDownMs / 1000)} s: ${(error as Error).message}`, { cause: error });
      context.emit({ event: 'waiting', reason: `Redis at ${target.display}: ${(error as Error).message}; retrying in ${backoff} ms` });
      await sleep(backoff);
      backoff = Math.min(5000, backoff * 2);
    }
  }
  const makespanMs = Math.max(0, lastDone - (Number.isFinite(firstQueued) ? firstQueued : lastDone));
  return { results: jobs.map((_, j) => results.get(j) as JobSummary), times: { makespanMs, busyMs: busy(intervals) } };
}
