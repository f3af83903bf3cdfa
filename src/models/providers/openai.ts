/**
 * The OpenAI-compatible embeddings client (OpenAI, Azure OpenAI, NIM, TEI,
 * infinity, vLLM, Ollama, LiteLLM): requests run on the main thread with
 * bounded concurrency across every call, client-side rate limits, retries
 * with full-jitter backoff honouring Retry-After, a circuit breaker, bad
 * texts isolated by halving, and adaptive batch size on 413.
 */
import { setMaxListeners } from 'node:events';
import { AbortError, VecforgeError, errorMessage } from '../../errors.js';
import { jitteredBackoffMs, serverDelayMs, sleep } from './backoff.js';
import { CircuitBreaker } from './breaker.js';
import type { ResolvedProviderOptions } from './options.js';
import { ProviderMetricsRecorder, type ProviderMetrics, type RetryCause } from './provider-metrics.js';
import { ProtocolError, decodeEmbeddings, errorText, requestBody } from './protocol.js';
import { Semaphore } from './semaphore.js';
import { TokenBucket } from './token-bucket.js';

/** A text the provider rejected; its row stays zero. */
export interface ProviderItemFailure {
  readonly code: 'PROVIDER_REJECTED';
  readonly reason: string;
}

/** A batch of texts the server refused as input (400, 422): split it. */
class RejectedError extends Error {}
/** A request the server found too large (413): halve it. */
class TooLargeError extends Error {}
/** The call's batch size dropped below this batch while it waited: cut it again. */
class ResplitError extends Error {}

/** Rejections isolated with nothing succeeding before a call gives up (the fault is the request, not a text). */
const kRejectedGiveUp = 8;

/** Estimated tokens of a text: as the scheduler's batcher counts them. */
function estimateTokens(length: number): number {
  return Math.ceil(length / 6) + 1;
}

interface CallState {
  maxItems: number;
  succeeded: number;
  rejected: number;
}

type AttemptResult = { readonly ok: true; readonly rows: Float32Array; readonly dims: number } | { readonly ok: false; readonly cause: RetryCause; readonly delayMs: number | undefined; readonly detail: string };

/** One OpenAI-compatible endpoint and model, shared by every call of an engine. */
export class OpenAIProvider {
  readonly #model: string;
  readonly #options: ResolvedProviderOptions;
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #semaphore: Semaphore;
  readonly #breaker: CircuitBreaker;
  readonly #requestBucket: TokenBucket;
  readonly #tokenBucket: TokenBucket;
  readonly #metrics = new ProviderMetricsRecorder();
  #dims: number | undefined;

  /**
   * @param model - the provider's model name (what follows `openai:`).
   * @param options - resolved provider options.
   */
  constructor(model: string, options: ResolvedProviderOptions) {
    this.#model = model;
    this.#options = options;
    this.#url = `${options.baseUrl}/embeddings`;
    this.#headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (options.apiKey !== undefined) this.#headers.authorization = `Bearer ${options.apiKey}`;
    this.#semaphore = new Semaphore(options.concurrency);
    this.#breaker = new CircuitBreaker(options.breakerFailures, options.breakerCooldownMs);
    this.#requestBucket = new TokenBucket(options.requestsPerMinute);
    this.#tokenBucket = new TokenBucket(options.tokensPerMinute);
    this.#dims = options.dims;
  }

  /** Output dims, once known (given, or after {@link OpenAIProvider.probeDims}). */
  get dims(): number {
    return this.#dims ?? 0;
  }

  /** The endpoint's host, for ids and descriptions (never the key or userinfo). */
  get host(): string {
    return new URL(this.#options.baseUrl).host;
  }

  /**
   * Learns the dims from one request, unless they were given.
   * @param signal - cancels it.
   * @returns the dims.
   * @throws {VecforgeError} ERR_PROVIDER or ERR_PROVIDER_UNAVAILABLE.
   */
  async probeDims(signal?: AbortSignal): Promise<number> {
    if (this.#dims !== undefined) return this.#dims;
    const { dims } = await this.#request(['vecforge dimension probe'], signal ?? new AbortController().signal, () => Number.POSITIVE_INFINITY);
    if (dims <= 0) throw new VecforgeError('ERR_PROVIDER', 'protocol error: the provider returned an empty embedding');
    this.#dims = dims;
    return dims;
  }

  /**
   * A snapshot of the counters.
   * @returns requests, retries by cause, 429s, in-flight, breaker, latency, tokens.
   */
  metrics(): ProviderMetrics {
    return this.#metrics.snapshot({ state: this.#breaker.state, opened: this.#breaker.openedCount });
  }

  /**
   * Counts texts the embedding cache served instead of this provider.
   * @param hits - how many.
   */
  addCacheHits(hits: number): void {
    this.#metrics.cacheHits += hits;
  }

  /** Zeroes the counters. */
  resetMetrics(): void {
    this.#metrics.reset();
  }

  /**
   * Embeds valid texts into `out` (row j for texts[j]). Texts are sorted by
   * length and cut into requests of at most maxBatchItems texts and
   * maxBatchTokens estimated tokens; all requests of all calls share the
   * concurrency bound.
   * @param texts - valid, non-empty texts.
   * @param out - texts.length × dims.
   * @param signal - cancels queued requests and aborts in-flight ones.
   * @returns the texts the provider rejected, by position.
   * @throws {AbortError} when cancelled.
   * @throws {VecforgeError} ERR_PROVIDER (key refused, protocol error, retries spent) or ERR_PROVIDER_UNAVAILABLE (breaker open).
   */
  async embedInto(texts: readonly string[], out: Float32Array, signal?: AbortSignal): Promise<Map<number, ProviderItemFailure>> {
    const failures = new Map<number, ProviderItemFailure>();
    if (texts.length === 0) return failures;
    const controller = new AbortController();
    // Every queued request and backoff of the call listens on this signal.
    setMaxListeners(0, controller.signal);
    const onAbort = (): void => controller.abort(signal?.reason);
    if (signal?.aborted === true) throw new AbortError(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const state: CallState = { maxItems: this.#options.maxBatchItems, succeeded: 0, rejected: 0 };
    const order = Array.from(texts.keys()).sort((a, b) => (texts[a] as string).length - (texts[b] as string).length);
    const batches: number[][] = [];
    let current: number[] = [];
    let tokens = 0;
    for (const i of order) {
      const t = estimateTokens((texts[i] as string).length);
      if (current.length > 0 && (current.length >= state.maxItems || tokens + t > this.#options.maxBatchTokens)) {
        batches.push(current);
        current = [];
        tokens = 0;
      }
      current.push(i);
      tokens += t;
    }
    if (current.length > 0) batches.push(current);
    const run = (batch: number[]): Promise<void> =>
      this.#runBatch(texts, batch, out, failures, state, controller.signal).catch((error: unknown) => {
        // The first failure stops the call's other requests.
        controller.abort(error);
        throw error;
      });
    try {
      const settled = await Promise.allSettled(batches.map(run));
      // Read again after the await: the caller may have aborted meanwhile.
      if ((signal as AbortSignal | undefined)?.aborted === true) throw new AbortError(signal?.reason);
      const first = settled.find((s) => s.status === 'rejected');
      // The batch that failed first aborted the others: its error is the call's, not the
      // AbortError of a batch that happened to come earlier in the list.
      if (first !== undefined) throw controller.signal.aborted ? (controller.signal.reason as unknown) : (first as PromiseRejectedResult).reason;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    return failures;
  }

  async #runBatch(texts: readonly string[], batch: number[], out: Float32Array, failures: Map<number, ProviderItemFailure>, state: CallState, signal: AbortSignal): Promise<void> {
    const dims = this.dims;
    try {
      const { rows } = await this.#request(
        batch.map((i) => texts[i] as string),
        signal,
        () => state.maxItems,
      );
      for (const [j, i] of batch.entries()) out.set(rows.subarray(j * dims, (j + 1) * dims), i * dims);
      state.succeeded++;
      return;
    } catch (error) {
      if (error instanceof ResplitError) {
        const parts: number[][] = [];
        for (let at = 0; at < batch.length; at += state.maxItems) parts.push(batch.slice(at, at + state.maxItems));
        await Promise.all(parts.map((p) => this.#runBatch(texts, p, out, failures, state, signal)));
        return;
      }
      if (!(error instanceof RejectedError || error instanceof TooLargeError)) throw error;
      if (batch.length === 1) {
        failures.set(batch[0] as number, { code: 'PROVIDER_REJECTED', reason: error instanceof TooLargeError ? `the provider found the text too large: ${error.message}` : `the provider rejected the text: ${error.message}` });
        state.rejected++;
        if (state.succeeded === 0 && state.rejected >= kRejectedGiveUp) {
          throw new VecforgeError('ERR_PROVIDER', `the provider rejected every request, giving up: ${error.message}`, { cause: error });
        }
        return;
      }
      const half = batch.length >> 1;
      // 413: the rest of the call sends at most half as many texts per request.
      if (error instanceof TooLargeError) state.maxItems = Math.max(1, Math.min(state.maxItems, half));
      await Promise.all([this.#runBatch(texts, batch.slice(0, half), out, failures, state, signal), this.#runBatch(texts, batch.slice(half), out, failures, state, signal)]);
    }
  }

  /** One request with its retries. */
  async #request(input: readonly string[], signal: AbortSignal, maxItems: () => number): Promise<{ rows: Float32Array; dims: number }> {
    const tokens = input.reduce((sum, t) => sum + estimateTokens(t.length), 0);
    const { maxRetries, retryBaseMs, retryMaxMs } = this.#options;
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) throw new AbortError(signal.reason);
      await this.#requestBucket.take(1, signal);
      await this.#tokenBucket.take(tokens, signal);
      const result = await this.#attempt(input, signal, maxItems);
      if (result.ok) return result;
      if (result.cause === 'rate-limited') this.#metrics.rateLimited++;
      if (attempt >= maxRetries) {
        throw new VecforgeError('ERR_PROVIDER', `the provider request failed after ${attempt + 1} attempts: ${result.detail}`);
      }
      this.#metrics.retries[result.cause]++;
      const backoff = jitteredBackoffMs(attempt, retryBaseMs, retryMaxMs);
      await sleep(result.delayMs === undefined ? backoff : Math.max(result.delayMs, 0), signal);
    }
  }

  /** One HTTP attempt: rows, a retryable failure, or a thrown final error. */
  async #attempt(input: readonly string[], signal: AbortSignal, maxItems: () => number): Promise<AttemptResult> {
    await this.#semaphore.acquire(signal);
    // The breaker is asked once a slot is held: a request that waited for the
    // slot while the requests before it failed must not go out after they opened it.
    let probe: boolean;
    try {
      probe = this.#breaker.admit();
    } catch (error) {
      this.#semaphore.release();
      throw error;
    }
    let verdict: 'none' | 'healthy' | 'failed' = 'none';
    try {
      let status: number;
      let headers: Headers;
      let text: string;
      const timeout = AbortSignal.timeout(this.#options.requestTimeoutMs);
      const startedMs = performance.now();
      try {
        if (input.length > maxItems()) throw new ResplitError();
        this.#metrics.requests++;
        this.#metrics.textsSent += input.length;
        this.#metrics.inFlight++;
        try {
          const response = await fetch(this.#url, { method: 'POST', headers: this.#headers, body: requestBody(this.#model, input, this.#options.dims), signal: AbortSignal.any([signal, timeout]) });
          status = response.status;
          headers = response.headers;
          text = await response.text();
        } finally {
          this.#metrics.inFlight--;
          this.#metrics.addLatency(performance.now() - startedMs);
        }
      } catch (error) {
        if (error instanceof ResplitError) throw error;
        if (signal.aborted) throw new AbortError(signal.reason);
        verdict = 'failed';
        if (timeout.aborted) return { ok: false, cause: 'timeout', delayMs: undefined, detail: `no answer within ${this.#options.requestTimeoutMs} ms (requestTimeoutMs)` };
        return { ok: false, cause: 'connection', delayMs: undefined, detail: `the connection to ${this.host} failed: ${this.#scrub(connectionMessage(error))}` };
      } finally {
        this.#semaphore.release();
      }
      if (status >= 200 && status < 300) {
        verdict = 'healthy';
        try {
          const decoded = decodeEmbeddings(text, input.length, this.#dims);
          this.#metrics.tokens += decoded.tokens;
          return { ok: true, rows: decoded.rows, dims: decoded.dims };
        } catch (error) {
          if (error instanceof ProtocolError) throw new VecforgeError('ERR_PROVIDER', `protocol error from ${this.host}: ${error.message}`);
          throw error;
        }
      }
      const message = this.#scrub(errorText(text));
      if (status === 429 || status === 500 || status === 502 || status === 503 || status === 504) {
        verdict = 'failed';
        return { ok: false, cause: status === 429 ? 'rate-limited' : 'server-error', delayMs: serverDelayMs(headers, Date.now()), detail: `HTTP ${status}${message === '' ? '' : `: ${message}`}` };
      }
      verdict = 'healthy';
      if (status === 401 || status === 403) {
        const hint = this.#options.apiKey === undefined ? '; no key was given (options.provider.apiKey, VECFORGE_API_KEY or OPENAI_API_KEY)' : '';
        throw new VecforgeError('ERR_PROVIDER', `the provider at ${this.host} refused the API key (HTTP ${status})${hint}`);
      }
      if (status === 413) throw new TooLargeError(`HTTP 413${message === '' ? '' : `: ${message}`}`);
      if (status === 400 || status === 422) throw new RejectedError(`HTTP ${status}${message === '' ? '' : `: ${message}`}`);
      throw new VecforgeError('ERR_PROVIDER', `the provider at ${this.host} answered HTTP ${status}${message === '' ? '' : `: ${message}`}`);
    } finally {
      if (verdict === 'healthy') this.#breaker.success(probe);
      else if (verdict === 'failed') this.#breaker.failure(probe);
      else this.#breaker.release(probe);
    }
  }

  /** Removes the key from a message the server or the network stack wrote. */
  #scrub(message: string): string {
    const key = this.#options.apiKey;
    return key === undefined ? message : message.split(key).join('[redacted]');
  }
}

function connectionMessage(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as unknown) : undefined;
  return cause instanceof Error ? `${errorMessage(error)} (${(cause as { code?: string }).code ?? cause.message})` : errorMessage(error);
}
