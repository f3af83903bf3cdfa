/**
 * The `provider` config section: the options of a remote embedding
 * provider (`--model openai:NAME`), as flags, `VECFORGE_PROVIDER__<KEY>`
 * variables and a `provider:` section of the config file. The ranges and
 * defaults are the provider's own (models/providers/options.ts), so the
 * command line and `Engine.create` accept exactly the same values.
 */
import { z } from 'zod';
import { kDefaultProviderOptions, kProviderIntRanges } from '../models/providers/options.js';
import { intField, type Field, type FieldMap } from './fields.js';

/**
 * An http(s) URL field.
 * @returns the field.
 */
function urlField(): Field<z.ZodString> {
  const schema = z.string().refine((s) => {
    try {
      const url = new URL(s);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  });
  return { schema: schema as unknown as z.ZodString, describe: 'an http(s) URL', expectedType: 'string' };
}

/**
 * A secret string field: validation messages never show its value.
 * @returns the field.
 */
function secretField(): Field<z.ZodString> {
  return { schema: z.string().min(1), describe: 'a non-empty string', expectedType: 'string', secret: true };
}

function rangeOf(key: string): readonly [number, number] {
  return kProviderIntRanges[key] as readonly [number, number];
}

/** The fields of the `provider` section. */
export const kProviderFields = Object.freeze({
  baseUrl: urlField(),
  /** Read from the config file (or `VECFORGE_PROVIDER__API_KEY`) only when neither VECFORGE_API_KEY nor OPENAI_API_KEY is set; no flag, so it never shows in a process list. */
  apiKey: secretField(),
  dims: intField(...rangeOf('dims')),
  concurrency: intField(...rangeOf('concurrency')),
  maxBatchItems: intField(...rangeOf('maxBatchItems')),
  maxBatchTokens: intField(...rangeOf('maxBatchTokens')),
  requestsPerMinute: intField(...rangeOf('requestsPerMinute')),
  tokensPerMinute: intField(...rangeOf('tokensPerMinute')),
  requestTimeoutMs: intField(...rangeOf('requestTimeoutMs')),
  maxRetries: intField(...rangeOf('maxRetries')),
  breakerFailures: intField(...rangeOf('breakerFailures')),
  breakerCooldownMs: intField(...rangeOf('breakerCooldownMs')),
}) satisfies FieldMap;

/** Resolved `provider` section; `apiKey` and `dims` have no default. */
export interface ProviderSection {
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  readonly dims: number | undefined;
  readonly concurrency: number;
  readonly maxBatchItems: number;
  readonly maxBatchTokens: number;
  readonly requestsPerMinute: number;
  readonly tokensPerMinute: number;
  readonly requestTimeoutMs: number;
  readonly maxRetries: number;
  readonly breakerFailures: number;
  readonly breakerCooldownMs: number;
}

/** Defaults of the `provider` section: the provider's own. */
export const kDefaultProviderSection: ProviderSection = Object.freeze({
  baseUrl: kDefaultProviderOptions.baseUrl,
  apiKey: undefined,
  dims: undefined,
  concurrency: kDefaultProviderOptions.concurrency,
  maxBatchItems: kDefaultProviderOptions.maxBatchItems,
  maxBatchTokens: kDefaultProviderOptions.maxBatchTokens,
  requestsPerMinute: kDefaultProviderOptions.requestsPerMinute,
  tokensPerMinute: kDefaultProviderOptions.tokensPerMinute,
  requestTimeoutMs: kDefaultProviderOptions.requestTimeoutMs,
  maxRetries: kDefaultProviderOptions.maxRetries,
  breakerFailures: kDefaultProviderOptions.breakerFailures,
  breakerCooldownMs: kDefaultProviderOptions.breakerCooldownMs,
});
