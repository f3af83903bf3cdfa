/**
 * The server's Prometheus metrics, through prom-client, in a registry of
 * its own (two servers in one process do not share counters): requests by
 * route and status, latency histograms, queue depth, batch sizes, requests
 * in flight, result cache hits and misses, index versions, and the
 * engine's own counters, read at scrape time.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Engine } from '../index.js';
import type { Admission } from './admission.js';
import { type IndexSlot, versionNumber } from './index-slot.js';

/** The metrics a server updates. */
export interface ServerMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly duration: Histogram<'route' | 'method'>;
  readonly inFlight: Gauge;
  /** Texts per call to the engine (an embeddings request, a search's queries). */
  readonly batchTexts: Histogram<'kind'>;
  readonly cacheHits: Counter<'index'>;
  readonly cacheMisses: Counter<'index'>;
  readonly rejected: Counter<'reason'>;
  readonly saves: Counter<'index' | 'outcome'>;
}

/** What the metrics read at scrape time. */
export interface MetricsSources {
  readonly engine: Engine;
  readonly admission: Admission;
  readonly slots: ReadonlyMap<string, IndexSlot>;
  /** Entries in the result cache now. */
  readonly cacheEntries: () => number;
}

/**
 * Sets a counter to a total read elsewhere (the engine keeps its own counters).
 * @param counter - the counter.
 * @param total - the total now.
 */
function setTotal(counter: Counter, total: number): void {
  counter.reset();
  counter.inc(Math.max(0, total));
}

/**
 * Creates the registry and every metric.
 * @param sources - what is read at scrape time.
 * @returns the metrics.
 */
export function createServerMetrics(sources: MetricsSources): ServerMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: 'vecforge_' });
  const { engine, admission, slots } = sources;
  const slotList = (): IndexSlot[] => [...slots.values()];

  new Gauge({
    name: 'vecforge_queue_depth',
    help: 'Texts and query vectors admitted and not yet answered',
    registers,
    collect() {
      this.set(admission.depth);
    },
  });
  new Gauge({
    name: 'vecforge_queue_limit',
    help: 'Texts and query vectors admitted at once (--max-queue)',
    registers,
    collect() {
      this.set(admission.limit);
    },
  });
  new Gauge({
    name: 'vecforge_cache_entries',
    help: 'Search results held in the result cache',
    registers,
    collect() {
      this.set(sources.cacheEntries());
    },
  });
  new Gauge({
    name: 'vecforge_index_version',
    help: 'The number of the version each index serves (v000012 is 12)',
    labelNames: ['index'],
    registers,
    collect() {
      for (const s of slotList()) this.set({ index: s.name }, versionNumber(s.version));
    },
  });
  new Gauge({
    name: 'vecforge_index_documents',
    help: 'Documents in each served index',
    labelNames: ['index'],
    registers,
    collect() {
      for (const s of slotList()) this.set({ index: s.name }, s.stats().count);
    },
  });
  new Gauge({
    name: 'vecforge_index_pending_writes',
    help: 'Writes applied to each index and not yet saved',
    labelNames: ['index'],
    registers,
    collect() {
      for (const s of slotList()) this.set({ index: s.name }, s.pendingCount);
    },
  });
  new Counter({
    name: 'vecforge_index_reloads_total',
    help: 'Versions published by another process and switched in',
    labelNames: ['index'],
    registers,
    collect() {
      this.reset();
      for (const s of slotList()) this.inc({ index: s.name }, s.reloads);
    },
  });
  const engineCounter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        setTotal(this, read());
      },
    });
  };
  engineCounter('vecforge_engine_items_total', 'Texts the engine embedded', () => engine.metrics().items);
  engineCounter('vecforge_engine_batches_total', 'Pool batches the engine ran', () => engine.metrics().batches);
  engineCounter('vecforge_engine_failures_total', 'Texts that failed to embed', () => engine.metrics().failures);
  engineCounter('vecforge_engine_retries_total', 'Pool batches retried after a worker error', () => engine.metrics().retries);
  new Gauge({
    name: 'vecforge_engine_queue_depth',
    help: 'Pool tasks waiting for a worker',
    registers,
    collect() {
      this.set(engine.metrics().queueDepth);
    },
  });
  new Gauge({
    name: 'vecforge_engine_utilization',
    help: 'Share of worker time spent embedding, in [0, 1]',
    registers,
    collect() {
      this.set(engine.metrics().utilization);
    },
  });
  new Gauge({
    name: 'vecforge_engine_batch_latency_ms',
    help: 'Pool batch latency percentiles over the last 4096 batches, in ms',
    labelNames: ['quantile'],
    registers,
    collect() {
      const { p50, p95, p99 } = engine.metrics().batchLatencyMs;
      this.set({ quantile: '0.5' }, p50);
      this.set({ quantile: '0.95' }, p95);
      this.set({ quantile: '0.99' }, p99);
    },
  });

  return {
    registry,
    requests: new Counter({ name: 'vecforge_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'], registers }),
    duration: new Histogram({
      name: 'vecforge_http_request_duration_seconds',
      help: 'HTTP request latency by route and method',
      labelNames: ['route', 'method'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    inFlight: new Gauge({ name: 'vecforge_http_requests_in_flight', help: 'HTTP requests being answered', registers }),
    batchTexts: new Histogram({ name: 'vecforge_engine_call_texts', help: 'Texts per call to the engine, by kind (embeddings, search, documents)', labelNames: ['kind'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048], registers }),
    cacheHits: new Counter({ name: 'vecforge_cache_hits_total', help: 'Searches answered from the result cache', labelNames: ['index'], registers }),
    cacheMisses: new Counter({ name: 'vecforge_cache_misses_total', help: 'Searches the result cache did not hold', labelNames: ['index'], registers }),
    rejected: new Counter({ name: 'vecforge_rejected_total', help: 'Requests refused before any work: queue_full (429), too_large (413), unauthorized (401)', labelNames: ['reason'], registers }),
    saves: new Counter({ name: 'vecforge_index_saves_total', help: 'Saves of pending writes by outcome', labelNames: ['index', 'outcome'], registers }),
  };
}
