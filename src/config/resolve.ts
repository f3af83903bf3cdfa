/**
 * Resolves configuration from its sources: options (or CLI flags) > env >
 * config file > defaults. Each section is a field map; later issues add
 * sections to {@link kConfigSections}.
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parseDocument, visit } from 'yaml';
import { VecforgeError } from '../errors.js';
import { formatValue, parseDecimal, parseFields, type FieldMap } from './fields.js';
import { defaultCacheDir, engineDefaults, kEngineFields, type OptionSource, type ResolvedEngineOptions } from './engine-options.js';
import {
  kDefaultIndexSection,
  kDefaultJobSection,
  kDefaultOutputSection,
  kDefaultSearchSection,
  kIndexFields,
  kJobFields,
  kOutputFields,
  kSearchFields,
  type IndexSection,
  type JobSection,
  type OutputSection,
  type SearchSection,
} from './job-options.js';
import { kDefaultProviderSection, kProviderFields, type ProviderSection } from './provider-section.js';

/** The config sections and their fields. */
export const kConfigSections = Object.freeze({ engine: kEngineFields, index: kIndexFields, job: kJobFields, search: kSearchFields, output: kOutputFields, provider: kProviderFields }) satisfies Readonly<
  Record<string, FieldMap>
>;

/** Config file names looked for in the working directory, in this order. */
export const kConfigFileNames = Object.freeze(['vecforge.config.yaml', 'vecforge.config.yml', 'vecforge.config.json']);

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
  if (expected === 'number') return parseDecimal(raw) ?? raw;
  if (expected === 'boolean') {
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
  }
  return raw;
}

/** A value read from the environment and the variable that set it. */
interface EnvEntry {
  readonly value: unknown;
  readonly variable: string;
}

function envEntries(section: SectionName, env: NodeJS.ProcessEnv): Map<string, EnvEntry> {
  const fields: FieldMap = kConfigSections[section];
  const byUpper = new Map(Object.keys(fields).map((k) => [k.toUpperCase(), k]));
  const out = new Map<string, EnvEntry>();
  for (const [name, target] of Object.entries(kEnvShortcuts)) {
    const raw = env[name];
    if (raw === undefined || target[0] !== section) continue;
    const field = fields[target[1]];
    if (field !== undefined) out.set(target[1], { value: coerceEnv(raw, field.expectedType), variable: name });
  }
  const prefix = `VECFORGE_${section.toUpperCase()}__`;
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined || !name.startsWith(prefix)) continue;
    const key = byUpper.get(name.slice(prefix.length).replaceAll('_', ''));
    if (key === undefined) {
      throw new TypeError(`environment variable ${name} names no option of section "${section}"; known: ${Object.keys(fields).join(', ')}`);
    }
    const field = fields[key];
    if (field !== undefined) out.set(key, { value: coerceEnv(raw, field.expectedType), variable: name });
  }
  return out;
}

/**
 * Reads `VECFORGE_<SECTION>__<KEY>` variables (and the shortcuts such as
 * `VECFORGE_BACKEND`) for one section. Keys are matched case-insensitively
 * against the section's field names; numbers must be written in decimal.
 * @param section - the section name.
 * @param env - the environment.
 * @returns the values found, coerced to the fields' types (a number that is not plain decimal stays a string, which validation refuses).
 * @throws {TypeError} for a variable that names no key of the section.
 */
export function envValues(section: SectionName, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, entry] of envEntries(section, env)) out[key] = entry.value;
  return out;
}

/**
 * Parses YAML, refusing numbers not written in decimal: YAML 1.2 reads
 * `0x2`, `0o7` and `1e3` as numbers, which the flags and the environment
 * refuse, so a file must not accept them either.
 * @param path - the file, for messages.
 * @param text - its text.
 * @returns the parsed value.
 * @throws {VecforgeError} ERR_CONFIG for a number that is not plain decimal.
 * @throws {Error} the parser's first error for invalid YAML.
 */
function parseYamlDecimal(path: string, text: string): unknown {
  const doc = parseDocument(text);
  const [first] = doc.errors;
  if (first !== undefined) throw first;
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'number' || node.source === undefined || parseDecimal(node.source) !== undefined) return;
      throw new VecforgeError('ERR_CONFIG', `config file ${path}: ${JSON.stringify(node.source)} is not a decimal number; write numbers in decimal (or quote it to mean a string)`);
    },
  });
  return doc.toJS();
}

/**
 * Reads a config file: YAML when its name ends in `.yaml` or `.yml`, JSON
 * otherwise.
 * @param path - the file path.
 * @returns its parsed object.
 * @throws {VecforgeError} ERR_CONFIG when unreadable, not valid JSON/YAML, or not an object.
 */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new VecforgeError('ERR_CONFIG', `cannot read config file ${path}`, { cause: error });
  }
  const yaml = ['.yaml', '.yml'].includes(extname(path).toLowerCase());
  let parsed: unknown;
  try {
    parsed = yaml ? parseYamlDecimal(path, text) : JSON.parse(text);
  } catch (error) {
    if (error instanceof VecforgeError) throw error;
    const detail = yaml && error instanceof Error ? `: ${error.message.split('\n')[0] ?? ''}` : '';
    throw new VecforgeError('ERR_CONFIG', `config file ${path} is not valid ${yaml ? 'YAML' : 'JSON'}${detail}`, { cause: error });
  }
  if (yaml && (parsed === null || parsed === undefined)) return {};
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new VecforgeError('ERR_CONFIG', `config file ${path} must hold ${yaml ? 'a YAML mapping' : 'a JSON object'}`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Finds the config file of a working directory: the first of
 * {@link kConfigFileNames} that exists.
 * @param cwd - the directory.
 * @returns its path, or undefined.
 */
export function findConfigFile(cwd: string = process.cwd()): string | undefined {
  for (const name of kConfigFileNames) {
    const path = join(cwd, name);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/**
 * The canonical environment variable of a key: `VECFORGE_JOB__CHECKPOINT_ITEMS`
 * for job.checkpointItems.
 * @param section - the section.
 * @param key - the key.
 * @returns the variable name.
 */
export function envVarName(section: SectionName, key: string): string {
  return `VECFORGE_${section.toUpperCase()}__${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** Every section resolved, each value with its source. */
export interface SourcedConfig {
  readonly engine: { readonly [K in keyof ResolvedEngineOptions]: Sourced<ResolvedEngineOptions[K]> };
  readonly index: { readonly [K in keyof IndexSection]: Sourced<IndexSection[K]> };
  readonly job: { readonly [K in keyof JobSection]: Sourced<JobSection[K]> };
  readonly search: { readonly [K in keyof SearchSection]: Sourced<SearchSection[K]> };
  readonly output: { readonly [K in keyof OutputSection]: Sourced<OutputSection[K]> };
  readonly provider: { readonly [K in keyof ProviderSection]: Sourced<ProviderSection[K]> };
}

/** Every section resolved to plain values. */
export interface ResolvedConfig {
  readonly engine: ResolvedEngineOptions;
  readonly index: IndexSection;
  readonly job: JobSection;
  readonly search: SearchSection;
  readonly output: OutputSection;
  readonly provider: ProviderSection;
}

/** The sources of {@link resolveConfig}: options per section. */
export interface FullConfigSources {
  /** Values given in code or as CLI flags, by section. */
  readonly options?: Readonly<Partial<Record<SectionName, Readonly<Record<string, unknown>>>>>;
  /** The environment. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** A parsed config file. */
  readonly file?: Readonly<Record<string, unknown>>;
  /** How the file is named in messages. @default 'config' */
  readonly fileName?: string;
}

const kSectionDefaults: Readonly<Record<Exclude<SectionName, 'engine'>, Readonly<Record<string, unknown>>>> = Object.freeze({
  index: { ...kDefaultIndexSection },
  job: { ...kDefaultJobSection },
  search: { ...kDefaultSearchSection },
  output: { ...kDefaultOutputSection },
  provider: { ...kDefaultProviderSection },
});

function envSection(section: SectionName, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const fields: FieldMap = kConfigSections[section];
  const values: Record<string, unknown> = {};
  for (const [key, { value, variable }] of envEntries(section, env)) {
    const field = fields[key];
    if (field !== undefined && !field.schema.safeParse(value).success) {
      const typeMatches = typeof value === field.expectedType;
      const shown = field.secret === true ? 'a value not shown (a secret)' : formatValue(typeof value === 'string' ? value : String(value));
      const message = `environment variable ${variable} must be ${field.describe}, got ${shown}`;
      throw typeMatches ? new RangeError(message) : new TypeError(message);
    }
    values[key] = value;
  }
  return values;
}

/**
 * Resolves every config section: options (flags) > env > file > defaults,
 * with the source of each value. The file may hold only known sections.
 * @param sources - options by section, env, file.
 * @returns every section's values and sources.
 * @throws {TypeError | RangeError} naming the key and its allowed values.
 */
export function resolveConfigSourced(sources: FullConfigSources = {}): SourcedConfig {
  const env = sources.env ?? process.env;
  const file = sources.file ?? {};
  const fileName = sources.fileName ?? 'config';
  for (const key of Object.keys(file)) {
    if (!(key in kConfigSections)) throw new TypeError(`${fileName}: "${key}" is not a known section; known sections: ${Object.keys(kConfigSections).join(', ')}`);
  }
  const engine = resolveEngineSourced({ options: sources.options?.engine ?? {}, env, file });
  const out: Record<string, Record<string, Sourced<unknown>>> = { engine: engine as unknown as Record<string, Sourced<unknown>> };
  for (const section of ['index', 'job', 'search', 'output', 'provider'] as const) {
    const fields: FieldMap = kConfigSections[section];
    const fileSection = file[section];
    const layers: ReadonlyArray<readonly [OptionSource, Record<string, unknown>]> = [
      ['option', parseFields(fields, sources.options?.[section] ?? {}, `options.${section}`)],
      ['env', envSection(section, env)],
      ['file', parseFields(fields, fileSection ?? {}, `config.${section}`)],
    ];
    const defaults = kSectionDefaults[section];
    const resolved: Record<string, Sourced<unknown>> = {};
    for (const key of Object.keys(fields)) {
      const layer = layers.find(([, values]) => values[key] !== undefined);
      resolved[key] = layer !== undefined ? { value: layer[1][key], source: layer[0] } : { value: defaults[key], source: 'default' };
    }
    out[section] = resolved;
  }
  return out as unknown as SourcedConfig;
}

/**
 * Resolves every config section to plain values.
 * @param sources - options by section, env, file.
 * @returns frozen sections.
 * @throws {TypeError | RangeError} naming the key and its allowed values.
 */
export function resolveConfig(sources: FullConfigSources = {}): ResolvedConfig {
  const sourced = resolveConfigSourced(sources);
  const out: Record<string, Readonly<Record<string, unknown>>> = {};
  for (const [section, entries] of Object.entries(sourced)) {
    const values: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(entries as Record<string, Sourced<unknown>>)) values[key] = entry.value;
    out[section] = Object.freeze(values);
  }
  return Object.freeze(out) as unknown as ResolvedConfig;
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
    ['env', envSection('engine', env)],
    ['file', parseFields(kEngineFields, fileSection ?? {}, 'config.engine')],
  ];
  const defaults: Record<string, unknown> = { ...engineDefaults() };
  const out: Record<string, Sourced<unknown>> = {};
  for (const key of Object.keys(kEngineFields)) {
    const layer = layers.find(([, values]) => values[key] !== undefined);
    if (layer !== undefined) out[key] = { value: layer[1][key], source: layer[0] };
    // The default cache directory comes from HOME / XDG_CACHE_HOME of this env, checked only when used.
    else out[key] = { value: key === 'cacheDir' ? defaultCacheDir(env) : defaults[key], source: 'default' };
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
