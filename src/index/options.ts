/**
 * The one table of HNSW defaults and ranges (the index options and the
 * config's `index` section both read it), and the options in threes of an
 * index: `XOptions` (in types.ts, each with its default), the frozen
 * `kDefaultXOptions` here, and the readonly resolved type, resolved once at
 * the public boundary.
 */
import { resolvePcaIndexOptions } from '../pca/index-options.js';
import type { HnswSpace } from './hnsw/core.js';
import { resolveLexicalOptions } from './lexical/options.js';
import type { IndexOptions, ResolvedIndexOptions } from './types.js';

/** An inclusive integer range. */
export type IntRange = readonly [min: number, max: number];

/** The HNSW parameters' ranges: what `createIndex` and the config accept. */
export const kHnswOptionRanges = Object.freeze({
  m: Object.freeze([2, 2048] as const),
  efConstruction: Object.freeze([1, 4096] as const),
  efSearch: Object.freeze([1, 4096] as const),
  capacity: Object.freeze([1, 2 ** 32 - 2] as const),
  dims: Object.freeze([1, 65536] as const),
  seed: Object.freeze([0, 2 ** 32 - 1] as const),
}) satisfies Readonly<Record<string, IntRange>>;

/** The defaults of `save` (see `SaveOptions`). */
export const kDefaultSaveOptions = Object.freeze({ onConflict: 'error' as 'error' | 'overwrite' });

/** What `SaveOptions.onConflict` accepts. */
export const kSaveConflictModes = Object.freeze(['error', 'overwrite'] as const);

/** The distance spaces, in the order messages list them. */
export const kIndexSpaces = Object.freeze(['cosine', 'ip', 'l2'] as const) satisfies readonly HnswSpace[];

/** The defaults of {@link IndexOptions} (`dims` defaults to the engine model's). */
export const kDefaultIndexOptions = Object.freeze({
  space: 'cosine' as HnswSpace,
  m: 16,
  efConstruction: 200,
  efSearch: 64,
  capacity: 1024,
  seed: 100,
  pca: null,
});

/** The defaults of {@link OpenIndexOptions}. */
export const kDefaultOpenIndexOptions = Object.freeze({ hugePages: true });

/** The defaults of {@link UpsertOptions}. */
export const kDefaultUpsertOptions = Object.freeze({ skipUnchanged: false });

/** The defaults of {@link SearchOptions} that do not depend on the index (`k` is min(10, count), `ef` max(efSearch, k)). */
export const kDefaultSearchOptions = Object.freeze({ k: 10 });

/** The default namespace of an item. */
export const kDefaultNamespace = 'default';

/**
 * Checks an integer option.
 * @param name - the option's name in messages (`options.<name>`).
 * @param value - as given.
 * @param range - the inclusive range.
 * @returns the value.
 * @throws {TypeError} when not a number; {RangeError} when not an integer in range.
 */
export function intOption(name: string, value: unknown, [min, max]: IntRange): number {
  if (typeof value !== 'number') throw new TypeError(`options.${name} must be an integer in [${min}, ${max}], got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`options.${name} must be an integer in [${min}, ${max}], got ${value}`);
  return value;
}

/**
 * Checks a boolean option.
 * @param name - the option's name in messages.
 * @param value - as given (undefined takes the default).
 * @param fallback - the default.
 * @returns the value.
 * @throws {TypeError} when not a boolean.
 */
export function boolOption(name: string, value: unknown, fallback: boolean): boolean {
  const v = value ?? fallback;
  if (typeof v !== 'boolean') throw new TypeError(`options.${name} must be a boolean, got ${typeof v}`);
  return v;
}

const kKnownIndexOptions = ['dir', 'space', 'm', 'efConstruction', 'efSearch', 'capacity', 'dims', 'seed', 'pca', 'lexical'];

/**
 * Validates and resolves index options.
 * @param options - as given.
 * @param modelDims - the engine model's dims.
 * @returns resolved options.
 * @throws {TypeError | RangeError} naming the option.
 */
export function resolveIndexOptions(options: unknown, modelDims: number): ResolvedIndexOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object with at least { dir }');
  const o = options as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!kKnownIndexOptions.includes(key)) throw new TypeError(`options.${key} is not a known index option; known: ${kKnownIndexOptions.join(', ')}`);
  if (typeof o.dir !== 'string' || o.dir === '') throw new TypeError(`options.dir must be a non-empty string, got ${String(o.dir)}`);
  const space = o.space ?? kDefaultIndexOptions.space;
  if (space !== 'cosine' && space !== 'ip' && space !== 'l2') throw new RangeError(`options.space must be one of ${kIndexSpaces.map((s) => JSON.stringify(s)).join(', ')}, got ${JSON.stringify(space)}`);
  const r = kHnswOptionRanges;
  const d = kDefaultIndexOptions;
  const dims = intOption('dims', o.dims ?? modelDims, r.dims);
  return Object.freeze({
    dir: o.dir,
    space,
    m: intOption('m', o.m ?? d.m, r.m),
    efConstruction: intOption('efConstruction', o.efConstruction ?? d.efConstruction, r.efConstruction),
    efSearch: intOption('efSearch', o.efSearch ?? d.efSearch, r.efSearch),
    capacity: intOption('capacity', o.capacity ?? d.capacity, r.capacity),
    dims,
    seed: intOption('seed', o.seed ?? d.seed, r.seed),
    pca: resolvePcaIndexOptions(o.pca, dims),
    lexical: resolveLexicalOptions(o.lexical),
  } satisfies ResolvedIndexOptions);
}
