/**
 * Counters of a remote provider, reported under `engine.metrics().provider`.
 */
import type { BreakerState } from './breaker.js';

/** Why a request was retried. */
export type RetryCause = 'rate-limited' | 'server-error' | 'timeout' | 'connection';

/** A snapshot of a provider's counters. */
export interface ProviderMetrics {
  /** HTTP requests sent (every attempt). */
  readonly requests: number;
  /** Retries, by cause. */
  readonly retries: Readonly<Record<RetryCause, number>>;
  /** 429 answers. */
  readonly rateLimited: number;
  /** Requests in flight now. */
  readonly inFlight: number;
  /** The circuit breaker's state now, and how often it opened. */
  readonly breaker: { readonly state: BreakerState; readonly opened: number };
  /** Request latency percentiles, in ms, over the last 4096 requests. */
  readonly latencyMs: { readonly p50: number; readonly p95: number; readonly p99: number };
  /** Tokens the server reported in `usage` (0 when it reports none). */
  readonly tokens: number;
  /** Texts sent (a retried text counts again). */
  readonly textsSent: number;
  /** Texts served from the embedding cache in front of the provider (by jobs), never sent. */
  readonly cacheHits: number;
}

const kWindow = 4096;

/** Mutable counters behind {@link ProviderMetrics}. */
export class ProviderMetricsRecorder {
  requests = 0;
  rateLimited = 0;
  inFlight = 0;
  tokens = 0;
  textsSent = 0;
  cacheHits = 0;
  readonly retries: Record<RetryCause, number> = { 'rate-limited': 0, 'server-error': 0, timeout: 0, connection: 0 };
  readonly #latencies = new Float64Array(kWindow);
  #count = 0;

  /** @param ms - one request's latency. */
  addLatency(ms: number): void {
    this.#latencies[this.#count % kWindow] = ms;
    this.#count++;
  }

  /** Zeroes the counters (not in-flight). */
  reset(): void {
    this.requests = 0;
    this.rateLimited = 0;
    this.tokens = 0;
    this.textsSent = 0;
    this.cacheHits = 0;
    for (const k of Object.keys(this.retries) as RetryCause[]) this.retries[k] = 0;
    this.#count = 0;
  }

  /**
   * @param breaker - the breaker's state and open count now.
   * @returns a snapshot.
   */
  snapshot(breaker: ProviderMetrics['breaker']): ProviderMetrics {
    const n = Math.min(this.#count, kWindow);
    const sorted = Float64Array.from(this.#latencies.subarray(0, n)).sort();
    const pct = (p: number): number => (n === 0 ? 0 : (sorted[Math.min(n - 1, Math.ceil(p * n) - 1)] ?? 0));
    return {
      requests: this.requests,
      retries: { ...this.retries },
      rateLimited: this.rateLimited,
      inFlight: this.inFlight,
      breaker,
      latencyMs: { p50: pct(0.5), p95: pct(0.95), p99: pct(0.99) },
      tokens: this.tokens,
      textsSent: this.textsSent,
      cacheHits: this.cacheHits,
    };
  }
}
