/**
 * A shard worker: takes shard jobs from the BullMQ queue, one at a time,
 * and runs each as the ordinary single-machine build or reindex of its
 * shard (jobs/shards/shard-job.ts), with its checkpoints. A worker killed
 * mid-job loses nothing: its lock on the job expires, BullMQ's stalled-job
 * check hands the job to another worker, and that one resumes from the
 * shard's last checkpoint (taking over the shard directory's lock of the
 * dead process). `stop()` (SIGTERM) lets the running job finish its chunk
 * and checkpoint, puts the job back in the queue without spending an
 * attempt, and leaves.
 */
import { hostname } from 'node:os';
import { DelayedError, Worker, type Job } from 'bullmq';
import { Engine } from '../engine.js';
import type { EngineOptions } from '../config/engine-options.js';
import { errorMessage } from '../errors.js';
import { runShardJob, type ShardJobData } from '../jobs/shards/shard-job.js';
import type { JobProgress, JobSummary } from '../jobs/types.js';
import { checkRedis, kShardQueueName, parseRedisUrl, queueConnection } from './connection.js';

/** Options of {@link startShardWorker}. */
export interface ShardWorkerOptions {
  /** redis://HOST:PORT[/DB]. */
  readonly url: string;
  /** Engine options (pool size, backend, cache dir); the model comes from each job. @default {} */
  readonly engine?: EngineOptions;
  /** How long a job's lock lasts without renewal before the job counts as stalled, ms. @default 30000 */
  readonly lockDurationMs?: number;
  /** How often stalled jobs are looked for, ms. @default 30000 */
  readonly stalledIntervalMs?: number;
  /** How many times a job may stall before it fails. @default 10 */
  readonly maxStalledCount?: number;
  /** The BullMQ queue. @default 'vecforge-shards' */
  readonly queueName?: string;
  /** Start the engine of this model before taking jobs (jobs of another model start their own). @default none */
  readonly warmModel?: string;
  /** One line per event (job taken, done, failed, stopping). @default none */
  readonly log?: (event: Readonly<Record<string, unknown>>) => void;
  /**
   * How long `stop()` waits for the queue to let go before it drops the
   * Redis connections, ms: BullMQ's close waits for Redis, forever when it
   * is gone. A job still marked active then is handed on by the stalled-job
   * check; its shard resumes from its last checkpoint. @default 10000
   */
  readonly closeGraceMs?: number;
}

/** A running shard worker. */
export interface ShardWorker {
  /** Stops: the running job checkpoints at its next chunk and goes back to the queue; resolves once the worker has left. */
  stop(): Promise<ShardWorkerClosed>;
  /** Resolves when the worker has stopped. */
  readonly closed: Promise<ShardWorkerClosed>;
}

/** How a shard worker left. */
export interface ShardWorkerClosed {
  /**
   * The queue did not let go within the grace period (Redis unreachable)
   * and its connections were dropped: BullMQ may still hold timers, so a
   * process that wants to end now should exit explicitly.
   */
  readonly forced: boolean;
}

/**
 * Connects to Redis (checked first, with a clear error) and starts taking
 * shard jobs.
 * @param options - url, engine options, lock and stall intervals.
 * @returns the worker.
 * @throws {TypeError} for a malformed URL; {VecforgeError} ERR_IO when Redis does not answer, ERR_CONFIG when BullMQ's driver is missing.
 */
export async function startShardWorker(options: ShardWorkerOptions): Promise<ShardWorker> {
  const target = parseRedisUrl(options.url);
  await checkRedis(target);
  const log = options.log ?? (() => {});
  const engines = new Map<string, Promise<Engine>>();
  const engineFor = (model: string): Promise<Engine> => {
    let e = engines.get(model);
    if (e === undefined) {
      e = Engine.create({ ...options.engine, model });
      engines.set(model, e);
      e.catch(() => engines.delete(model));
    }
    return e;
  };
  if (options.warmModel !== undefined) await engineFor(options.warmModel);
  let stopping = false;
  const running = new Set<AbortController>();
  /** Shard jobs' own work (files and the pool, no Redis), which stop() lets reach its checkpoint before the grace period starts. */
  const localRuns = new Set<Promise<JobSummary>>();
  const process = async (job: Job, token?: string): Promise<JobSummary> => {
    const data = job.data as ShardJobData;
    const stop = new AbortController();
    running.add(stop);
    if (stopping) stop.abort();
    log({ event: 'job-start', jobId: job.id, shard: data.shard, attempt: job.attemptsMade + 1, host: hostname() });
    let lastReport = 0;
    const onProgress = (p: JobProgress): void => {
      const now = Date.now();
      if (now - lastReport < 500 && !p.checkpoint) return;
      lastReport = now;
      // Progress is advisory: a lost update (Redis away for a moment) is not an error of the job.
      job.updateProgress({ read: p.counts.read, added: p.counts.added, checkpoint: p.checkpoint }).catch(() => {});
    };
    try {
      const engine = await engineFor(data.model);
      const local = runShardJob(data, { engine, stopSignal: stop.signal, onProgress });
      localRuns.add(local);
      const summary = await local.finally(() => localRuns.delete(local));
      if (summary.state === 'interrupted') {
        // Back to the queue without spending an attempt; the next worker resumes from the checkpoint.
        await job.moveToDelayed(Date.now(), token);
        log({ event: 'job-requeued', jobId: job.id, shard: data.shard, read: summary.counts.read });
        throw new DelayedError();
      }
      log({ event: 'job-done', jobId: job.id, shard: data.shard, state: summary.state, read: summary.counts.read, seconds: Number(summary.seconds.toFixed(3)), resumedFrom: summary.resumedFrom });
      return JSON.parse(JSON.stringify(summary)) as JobSummary;
    } catch (error) {
      if (!(error instanceof DelayedError)) log({ event: 'job-failed', jobId: job.id, shard: data.shard, reason: errorMessage(error) });
      throw error;
    } finally {
      running.delete(stop);
    }
  };
  const worker = new Worker(options.queueName ?? kShardQueueName, process, {
    connection: queueConnection(target),
    concurrency: 1,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 10,
  });
  worker.on('error', (error) => log({ event: 'redis-error', reason: errorMessage(error) }));
  let resolveClosed: (how: ShardWorkerClosed) => void = () => {};
  const closed = new Promise<ShardWorkerClosed>((r) => {
    resolveClosed = r;
  });
  const graceMs = options.closeGraceMs ?? 10_000;
  const stop = async (): Promise<ShardWorkerClosed> => {
    if (stopping) return closed;
    stopping = true;
    log({ event: 'stopping', running: running.size });
    for (const c of running) c.abort();
    await Promise.allSettled([...localRuns]);
    let timer: NodeJS.Timeout | undefined;
    const left = await Promise.race([
      worker.close().then(
        () => true,
        () => true,
      ),
      new Promise<false>((r) => {
        timer = setTimeout(() => r(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (!left) {
      // Redis did not answer within the grace period: the connections are dropped (their pending commands fail) instead of waited for.
      log({ event: 'stopping', forced: true, reason: `the queue did not close within ${graceMs} ms (Redis unreachable?)` });
      // Not awaited: BullMQ's disconnect waits for the connection's end, which never comes while the server is gone; the clients stop reconnecting at once.
      worker.disconnect().catch(() => {});
    }
    for (const e of engines.values()) await (await e.catch(() => null))?.close();
    resolveClosed({ forced: !left });
    return closed;
  };
  await worker.waitUntilReady();
  log({ event: 'ready', queue: options.queueName ?? kShardQueueName, redis: target.display, host: hostname() });
  return { stop, closed };
}
