/**
 * Resolves configuration from its sources: options (or CLI flags) > env >
 * config file > defaults. Each section is a field map; later issues add
 * sections to {@link kConfigSections}.
 */
import { readFileSync } from 'node:fs';
import { VecforgeError } from '../errors.js';
import { parseFields, type FieldMap } from './fields.js';
import { engineDefaults, kEngineFields, type OptionSource, type ResolvedEngineOptions } from './engine-options.js';

/** The config sections and their fields. */
export const kConfigSections = Object.freeze({ engine: kEngineFields }) satisfies Readonly<Record<string, FieldMap>>;

/** A section name. */
export type SectionName = keyof typeof kConfigSections;

/** Environment shortcuts documented in the README, mapped to `section.key`. */
const kEnvShortcuts: Readonly<Record<string, readonly [SectionName, string]>> = Object.freeze({
  VECFORGE_BACKEND: ['engine', 'backend'],
  VECFORGE_WORKERS: ['engine', 'workers'],
  VECFORGE_MODEL: ['engine', 'model'],
  VECFORGE_CACHE_DIR: ['engine', 'cacheDir'],
});

/** A resolved value and where it came from. */
export interface Sourced<T> {
  readonly value: T;
  readonly source: OptionSource;
}

/** The sources that resolution reads, all optional. */
export interface ConfigSources {
  /** Options passed in code, or CLI flags. */
  readonly options?: Readonly<Record<string, unknown>>;
  /** The environment. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** A parsed config file: `{ engine: {...} }`. */
  readonly file?: Readonly<Record<string, unknown>>;
}

function coerceEnv(raw: string, expected: string): unknown {
  if (expected === 'number') {
    const n = Number(raw);
    return raw.trim() === '' || Number.isNaN(n) ? raw : n;
  }
  if (expected === 'boolean') {
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
  }
  return raw;
}

/**
 * Reads `VECFORGE_<SECTION>__<KEY>` variables (and the shortcuts such as
 * `VECFORGE_BACKEND`) for one section. Keys are matched case-insensitively
 * against the section's field names.
 * @param section - the section name.
 * @param env - the environment.
 * @returns the values found, coerced to the fields' types.
 */
export function envValues(section: SectionName, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const fields: FieldMap = kConfigSections[section];
  const byUpper = new Map(Object.keys(fields).map((k) => [k.toUpperCase(), k]));
  const out: Record<string, unknown> = {};
  for (const [name, target] of Object.entries(kEnvShortcuts)) {
    const raw = env[name];
    if (raw === undefined || target[0] !== section) continue;
    const field = fields[target[1]];
    if (field !== undefined) out[target[1]] = coerceEnv(raw, field.expectedType);
  }
  const prefix = `VECFORGE_${section.toUpperCase()}__`;
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !name.startsWith(prefix)) continue;
    const key = byUpper.get(name.slice(prefix.length).replaceAll('_', ''));
    if (key === undefined) {
      throw new TypeError(`environment variable ${name} names no option of section "${section}"; known: ${Object.keys(fields).join(', ')}`);
    }
    const field = fields[key];
    if (field !== undefined) out[key] = coerceEnv(raw, field.expectedType);
  }
  return out;
}

/**
 * Reads a JSON config file.
 * @param path - the file path.
 * @returns its parsed object.
 * @throws {VecforgeError} ERR_CONFIG when unreadable or not a JSON object.
 */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new VecforgeError('ERR_CONFIG', `cannot read config file ${path}`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new VecforgeError('ERR_CONFIG', `config file ${path} is not valid JSON`, { cause: error });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new VecforgeError('ERR_CONFIG', `config file ${path} must hold a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Resolves the engine section with the source of every value.
 * @param sources - options, env and file.
 * @returns each option's value and source.
 * @throws {TypeError | RangeError} naming the option, for any invalid value.
 */
export function resolveEngineSourced(sources: ConfigSources = {}): { readonly [K in keyof ResolvedEngineOptions]: Sourced<ResolvedEngineOptions[K]> } {
  const env = sources.env ?? process.env;
  const fileSection = sources.file?.engine;
  const layers: ReadonlyArray<readonly [OptionSource, Record<string, unknown>]> = [
    ['option', parseFields(kEngineFields, sources.options ?? {}, 'options')],
    ['env', parseFields(kEngineFields, envValues('engine', env), 'env')],
    ['file', parseFields(kEngineFields, fileSection ?? {}, 'config.engine')],
  ];
  const defaults: Record<string, unknown> = { ...engineDefaults() };
  const out: Record<string, Sourced<unknown>> = {};
  for (const key of Object.keys(kEngineFields)) {
    const layer = layers.find(([, values]) => values[key] !== undefined);
    out[key] = layer !== undefined ? { value: layer[1][key], source: layer[0] } : { value: defaults[key], source: 'default' };
  }
  return out as unknown as { readonly [K in keyof ResolvedEngineOptions]: Sourced<ResolvedEngineOptions[K]> };
}

/**
 * Resolves engine options: options > env > file > defaults.
 * @param sources - options, env and file.
 * @returns frozen resolved options.
 * @throws {TypeError | RangeError} naming the option, for any invalid value.
 */
export function resolveEngineOptions(sources: ConfigSources = {}): ResolvedEngineOptions {
  const sourced = resolveEngineSourced(sources);
  const out: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(sourced)) out[key] = entry.value;
  return Object.freeze(out) as unknown as ResolvedEngineOptions;
}
