/**
 * The remote-provider side of the command line: the engine options a
 * command passes to `Engine.create` (its `engine` section, plus the
 * `provider` section for a model named `openai:NAME`), the API key's
 * precedence, and the check that provider flags go with a provider model.
 */
import type { EngineCreateOptions, ProviderOptions } from '../index.js';
import type { ResolvedConfig, SourcedConfig } from '../config/resolve.js';
import { UsageError } from './usage-error.js';

/** Model names of remote providers start with one of these. */
const kProviderPrefixes = Object.freeze(['openai:']);

/**
 * Whether a model name names a remote provider (`openai:NAME`).
 * @param model - the engine's model option.
 * @returns true for a provider model.
 */
export function isProviderModelName(model: string): boolean {
  return kProviderPrefixes.some((p) => model.startsWith(p));
}

/**
 * The options of `Engine.create` for a command: the engine section and,
 * for a provider model, the provider section. The API key is
 * VECFORGE_API_KEY, else OPENAI_API_KEY (both read by the engine itself),
 * else `provider.apiKey` of the config.
 * @param config - the resolved config.
 * @param env - the environment the engine reads.
 * @returns the options.
 */
export function engineCreateOptions(config: ResolvedConfig, env: NodeJS.ProcessEnv = process.env): EngineCreateOptions {
  if (!isProviderModelName(config.engine.model)) return { ...config.engine };
  const { apiKey, dims, ...rest } = config.provider;
  const keyInEnv = (env.VECFORGE_API_KEY ?? '') !== '' || (env.OPENAI_API_KEY ?? '') !== '';
  const provider: ProviderOptions = { ...rest, ...(dims !== undefined ? { dims } : {}), ...(apiKey !== undefined && !keyInEnv ? { apiKey } : {}) };
  return { ...config.engine, provider };
}

/**
 * Refuses provider flags with a local model: `--base-url` with
 * `--model glove-100d` is a mistake, not something to ignore. Values from
 * the environment or the config file are ignored for a local model.
 * @param sourced - the config with the source of each value.
 * @param flagOf - the flag of each provider key (`baseUrl` → `--base-url`).
 * @throws {UsageError} naming the flag.
 */
export function checkProviderFlags(sourced: SourcedConfig, flagOf: Readonly<Record<string, string>>): void {
  const model = sourced.engine.model.value;
  if (isProviderModelName(model)) return;
  for (const [key, entry] of Object.entries(sourced.provider as Record<string, { source: string }>)) {
    if (entry.source !== 'option') continue;
    throw new UsageError(`${flagOf[key] ?? `provider.${key}`} applies to a remote provider model (--model openai:NAME), but the model is ${JSON.stringify(model)}`);
  }
}

/**
 * What `vecforge config` shows for a value: never a secret's value.
 * @param section - the section.
 * @param key - the key.
 * @param value - the value.
 * @returns the value, or `(set)` for an API key that is set.
 */
export function shownConfigValue(section: string, key: string, value: unknown): unknown {
  return section === 'provider' && key === 'apiKey' && value !== undefined && value !== null ? '(set)' : value;
}
