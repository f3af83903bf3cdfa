/**
 * Scheduler metrics: counters, batch latency percentiles over a bounded
 * window, throughput since the last reset.
 */

/** A snapshot returned by `engine.metrics()`. */
export interface EngineMetrics {
  /** Items embedded successfully. */
  readonly items: number;
  /** Batches completed. */
  readonly batches: number;
  /** Items that ended in `state: 'failed'`. */
  readonly failures: number;
  /** Batch attempts retried after a worker error. */
  readonly retries: number;
  /** Successful items per second since creation or the last reset. */
  readonly itemsPerSecond: number;
  /** Batch latency (time in the worker) percentiles, in milliseconds, over the last 4096 batches. */
  readonly batchLatencyMs: { readonly p50: number; readonly p95: number; readonly p99: number };
  /** Tasks waiting for a worker now. */
  readonly queueDepth: number;
  /** Share of worker time spent embedding since the last reset, in [0, 1]. */
  readonly utilization: number;
  /** Seconds since creation or the last reset. */
  readonly elapsedSeconds: number;
}

const kLatencyWindow = 4096;

/** Mutable metric counters owned by the scheduler. */
export class MetricsRecorder {
  #items = 0;
  #batches = 0;
  #failures = 0;
  #retries = 0;
  #startedMs = performance.now();
  readonly #latencies = new Float64Array(kLatencyWindow);
  #latencyCount = 0;
  #busyMs = 0;

  /** Counts successful items. @param n - how many. */
  addItems(n: number): void {
    this.#items += n;
  }

  /** Counts failed items. @param n - how many. */
  addFailures(n: number): void {
    this.#failures += n;
  }

  /** Counts one retry. */
  addRetry(): void {
    this.#retries++;
  }

  /** Records a completed batch. @param latencyMs - its latency. */
  addBatch(latencyMs: number): void {
    this.#batches++;
    this.#busyMs += latencyMs;
    this.#latencies[this.#latencyCount % kLatencyWindow] = latencyMs;
    this.#latencyCount++;
  }

  /** Zeroes every counter and restarts the clock. */
  reset(): void {
    this.#items = 0;
    this.#batches = 0;
    this.#failures = 0;
    this.#retries = 0;
    this.#latencyCount = 0;
    this.#busyMs = 0;
    this.#startedMs = performance.now();
  }

  /**
   * Takes a snapshot.
   * @param queueDepth - the pool's queue size now.
   * @param workers - the pool size.
   * @returns the metrics.
   */
  snapshot(queueDepth: number, workers: number): EngineMetrics {
    const n = Math.min(this.#latencyCount, kLatencyWindow);
    const sorted = Float64Array.from(this.#latencies.subarray(0, n)).sort();
    const pct = (p: number): number => (n === 0 ? 0 : (sorted[Math.min(n - 1, Math.ceil(p * n) - 1)] ?? 0));
    const elapsedSeconds = (performance.now() - this.#startedMs) / 1000;
    return {
      items: this.#items,
      batches: this.#batches,
      failures: this.#failures,
      retries: this.#retries,
      itemsPerSecond: elapsedSeconds > 0 ? this.#items / elapsedSeconds : 0,
      batchLatencyMs: { p50: pct(0.5), p95: pct(0.95), p99: pct(0.99) },
      queueDepth,
      utilization: elapsedSeconds > 0 ? Math.min(1, this.#busyMs / 1000 / (elapsedSeconds * workers)) : 0,
      elapsedSeconds,
    };
  }
}
