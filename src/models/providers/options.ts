/**
 * Options of a remote embedding provider (STYLE.md, "options in threes"):
 * the public {@link ProviderOptions}, the frozen {@link kDefaultProviderOptions}
 * and the resolved {@link ResolvedProviderOptions}.
 */

/** Options of a remote provider (`Engine.create({ model: 'openai:NAME', provider })`). Every field is optional. */
export interface ProviderOptions {
  /** The endpoint; requests go to `{baseUrl}/embeddings`. An http(s) URL. @default 'https://api.openai.com/v1' */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer …`; never printed. @default $VECFORGE_API_KEY, else $OPENAI_API_KEY, else none */
  apiKey?: string;
  /** Output dims, sent as `dimensions`; an integer in [1, 65536]. @default what the first response has (one probe request at start-up) */
  dims?: number;
  /** Requests in flight across every call of the engine, an integer in [1, 64]. @default 8 */
  concurrency?: number;
  /** Texts per request, an integer in [1, 2048]. @default 256 */
  maxBatchItems?: number;
  /** Estimated tokens per request (UTF-16 length / 6 + 1 per text), an integer in [1, 10000000]. @default 100000 */
  maxBatchTokens?: number;
  /** Time allowed to one request, in ms, an integer in [1, 3600000]. @default 60000 */
  requestTimeoutMs?: number;
  /** Retries of one request on 429, 5xx, a timeout or a dropped connection, an integer in [0, 100]. @default 6 */
  maxRetries?: number;
  /** Client-side request rate limit, an integer in [0, 1000000]; 0 is none. @default 0 */
  requestsPerMinute?: number;
  /** Client-side token rate limit (estimated tokens), an integer in [0, 1000000000]; 0 is none. @default 0 */
  tokensPerMinute?: number;
  /** Consecutive failed requests that open the circuit breaker, an integer in [1, 1000]. @default 10 */
  breakerFailures?: number;
  /** How long the breaker stays open before one probe, in ms, an integer in [0, 3600000]. @default 30000 */
  breakerCooldownMs?: number;
  /** First backoff step, in ms (full jitter over base × 2^attempt), an integer in [0, 60000]. @default 500 */
  retryBaseMs?: number;
  /** Largest backoff without Retry-After, in ms, an integer in [0, 600000]. @default 30000 */
  retryMaxMs?: number;
}

/** The options that have defaults. */
type DefaultedProviderOptions = Readonly<Required<Omit<ProviderOptions, 'apiKey' | 'dims'>>>;

/** The defaults of {@link ProviderOptions} (apiKey and dims have none). */
export const kDefaultProviderOptions: DefaultedProviderOptions = Object.freeze({
  baseUrl: 'https://api.openai.com/v1',
  concurrency: 8,
  maxBatchItems: 256,
  maxBatchTokens: 100_000,
  requestTimeoutMs: 60_000,
  maxRetries: 6,
  requestsPerMinute: 0,
  tokensPerMinute: 0,
  breakerFailures: 10,
  breakerCooldownMs: 30_000,
  retryBaseMs: 500,
  retryMaxMs: 30_000,
});

/** {@link ProviderOptions} resolved: `apiKey` and `dims` stay undefined when not given. */
export interface ResolvedProviderOptions extends DefaultedProviderOptions {
  readonly apiKey: string | undefined;
  readonly dims: number | undefined;
}

/** The allowed range of every integer option (models/ sits below config/, so it checks its own options). */
export const kProviderIntRanges: Readonly<Record<string, readonly [number, number]>> = Object.freeze({
  dims: [1, 65_536],
  concurrency: [1, 64],
  maxBatchItems: [1, 2048],
  maxBatchTokens: [1, 10_000_000],
  requestTimeoutMs: [1, 3_600_000],
  maxRetries: [0, 100],
  requestsPerMinute: [0, 1_000_000],
  tokensPerMinute: [0, 1_000_000_000],
  breakerFailures: [1, 1000],
  breakerCooldownMs: [0, 3_600_000],
  retryBaseMs: [0, 60_000],
  retryMaxMs: [0, 600_000],
});

const kStringOptions = Object.freeze(['baseUrl', 'apiKey']);

/**
 * Applies the defaults of {@link ProviderOptions} and checks them. The key
 * comes from `options.apiKey`, else `VECFORGE_API_KEY`, else `OPENAI_API_KEY`.
 * @param options - as the caller gave them.
 * @param env - the engine's environment.
 * @returns the resolved, frozen options.
 * @throws {TypeError} for a wrong type or an unknown option.
 * @throws {RangeError} for a value out of range or a baseUrl that is not an http(s) URL.
 */
export function resolveProviderOptions(options: unknown, env: NodeJS.ProcessEnv): ResolvedProviderOptions {
  const parsed = parseApiKeySafely(options);
  const baseUrl = (parsed.baseUrl ?? kDefaultProviderOptions.baseUrl).replace(/\/+$/, '');
  let url: URL | undefined;
  try {
    url = new URL(baseUrl);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new RangeError(`options.provider.baseUrl must be an http(s) URL, got ${JSON.stringify(baseUrl)}`);
  }
  const fromEnv = env.VECFORGE_API_KEY !== undefined && env.VECFORGE_API_KEY !== '' ? env.VECFORGE_API_KEY : env.OPENAI_API_KEY !== '' ? env.OPENAI_API_KEY : undefined;
  return Object.freeze({ ...kDefaultProviderOptions, ...parsed, baseUrl, apiKey: parsed.apiKey ?? fromEnv, dims: parsed.dims });
}

/** Checks every option; a message never shows the key's value. */
function parseApiKeySafely(options: unknown): Partial<ResolvedProviderOptions> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError(`options.provider must be an object, got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`);
  const out: Record<string, unknown> = {};
  const known = [...kStringOptions, ...Object.keys(kProviderIntRanges)];
  for (const [key, value] of Object.entries(options as Record<string, unknown>)) {
    if (!known.includes(key)) throw new TypeError(`options.provider.${key} is not a known option; known options: ${known.join(', ')}`);
    if (value === undefined) continue;
    if (key === 'apiKey') {
      if (typeof value !== 'string' || value === '') throw new TypeError('options.provider.apiKey must be a non-empty string');
    } else if (kStringOptions.includes(key)) {
      if (typeof value !== 'string' || value === '') throw new TypeError(`options.provider.${key} must be a non-empty string, got ${show(value)}`);
    } else {
      const [min, max] = kProviderIntRanges[key] as readonly [number, number];
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        const message = `options.provider.${key} must be an integer in [${min}, ${max}], got ${show(value)}`;
        throw typeof value === 'number' ? new RangeError(message) : new TypeError(message);
      }
    }
    out[key] = value;
  }
  return out as Partial<ResolvedProviderOptions>;
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value) : typeof value === 'object' && value !== null ? 'an object' : String(value);
}
