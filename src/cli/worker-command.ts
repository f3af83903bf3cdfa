/**
 * `vecforge worker --queue redis://HOST:PORT[/DB]`: takes shard jobs from
 * the queue until SIGTERM or Ctrl-C, which let the running job checkpoint
 * and go back to the queue. One JSON line per event on stderr.
 */
import type { EngineOptions } from '../config/engine-options.js';
import { kExitOk } from './exit-codes.js';
import { onInterrupt } from './signals.js';
import { UsageError } from './usage-error.js';

/** What `worker` needs. */
export interface WorkerCommandOptions {
  readonly queue: string;
  readonly engine: EngineOptions;
  /** The model whose engine starts before the first job. */
  readonly model: string;
  readonly lockMs?: string | undefined;
  readonly stalledMs?: string | undefined;
}

function parseMs(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < 200 || n > 3_600_000) throw new UsageError(`${flag} must be an integer number of milliseconds in [200, 3600000], got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * Runs a shard worker until it is told to stop.
 * @param o - queue URL, engine options, lock and stall intervals.
 * @returns 0 once stopped.
 * @throws {VecforgeError} ERR_IO when Redis cannot be reached at start.
 */
export async function runWorker(o: WorkerCommandOptions): Promise<number> {
  const lockDurationMs = parseMs('--lock-ms', o.lockMs);
  const stalledIntervalMs = parseMs('--stalled-ms', o.stalledMs);
  const { checkQueueUrl } = await import('./shard-commands.js');
  await checkQueueUrl(o.queue);
  const { startShardWorker } = await import('../queue/worker.js');
  const log = (e: Readonly<Record<string, unknown>>): void => {
    process.stderr.write(`${JSON.stringify(e)}\n`);
  };
  const worker = await startShardWorker({
    url: o.queue,
    engine: o.engine,
    warmModel: o.model,
    log,
    ...(lockDurationMs !== undefined ? { lockDurationMs } : {}),
    ...(stalledIntervalMs !== undefined ? { stalledIntervalMs } : {}),
  });
  const off = onInterrupt(() => {
    void worker.stop();
  });
  let forced = false;
  try {
    forced = (await worker.closed).forced;
  } finally {
    off();
  }
  if (forced) {
    // Redis was unreachable and the queue's connections were dropped; BullMQ may keep timers alive, so leave now (stderr flushed first).
    await new Promise<void>((r) => process.stderr.write('', () => r()));
    process.exit(kExitOk);
  }
  return kExitOk;
}
