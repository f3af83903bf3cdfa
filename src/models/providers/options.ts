/**
 * Options of a remote embedding provider (STYLE.md, "options in threes"):
 * the public {@link ProviderOptions}, the frozen {@link kDefaultProviderOptions}
 * and the resolved {@link ResolvedProviderOptions}.
 */
import { intField, parseFields, stringField } from '../../config/fields.js';

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

/** The fields of the `provider` options, with their allowed values. */
export const kProviderFields = Object.freeze({
  baseUrl: stringField(),
  apiKey: stringField(),
  dims: intField(1, 65_536),
  concurrency: intField(1, 64),
  maxBatchItems: intField(1, 2048),
  maxBatchTokens: intField(1, 10_000_000),
  requestTimeoutMs: intField(1, 3_600_000),
  maxRetries: intField(0, 100),
  requestsPerMinute: intField(0, 1_000_000),
  tokensPerMinute: intField(0, 1_000_000_000),
  breakerFailures: intField(1, 1000),
  breakerCooldownMs: intField(0, 3_600_000),
  retryBaseMs: intField(0, 60_000),
  retryMaxMs: intField(0, 600_000),
});

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

/** parseFields, with the key kept out of any message it writes. */
function parseApiKeySafely(options: unknown): Partial<ResolvedProviderOptions> {
  if (options !== null && typeof options === 'object' && !Array.isArray(options)) {
    const key = (options as Record<string, unknown>).apiKey;
    if (key !== undefined && (typeof key !== 'string' || key === '')) {
      throw new TypeError('options.provider.apiKey must be a non-empty string');
    }
  }
  return parseFields(kProviderFields, options, 'options.provider') as Partial<ResolvedProviderOptions>;
}
