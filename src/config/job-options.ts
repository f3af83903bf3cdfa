/**
 * The config sections beside `engine`: `index` (HNSW parameters of new
 * indexes), `job` (build and reindex jobs), `search` and `output` (the
 * command line). Each is a field map with frozen defaults, like the engine
 * section; every key can be set by a CLI flag, `VECFORGE_<SECTION>__<KEY>`
 * or the config file.
 */
import { kDefaultIndexOptions, kHnswOptionRanges, kIndexSpaces } from '../index/options.js';
import { booleanField, enumField, intField, numberField, stringField, type FieldMap } from './fields.js';

/** HNSW parameters of a new index. */
export const kIndexFields = Object.freeze({
  space: enumField(kIndexSpaces),
  m: intField(...kHnswOptionRanges.m),
  efConstruction: intField(...kHnswOptionRanges.efConstruction),
  efSearch: intField(...kHnswOptionRanges.efSearch),
  /** PCA: dims after projection (unset: no PCA). */
  pca: intField(1, 8192),
  /** PCA: vectors the model is fitted on (unset: the library default, 20000). */
  pcaSample: intField(2, 16_777_216),
  /** PCA: keep full vectors and rerank exactly. */
  rerank: booleanField(),
  /** Keep a lexical (BM25) index beside the graph. */
  lexical: booleanField(),
  /** The lexical index's stop words (unset: the library default, english); the lists of index/lexical/tokenize.ts. */
  stopWords: enumField(['english', 'none'] as const),
  /** BM25 k1 and b (unset: the library defaults, 1.2 and 0.75); the ranges of index/lexical/options.ts. */
  bm25K1: numberField(0, 100),
  bm25B: numberField(0, 1),
}) satisfies FieldMap;

/** Build and reindex jobs. */
export const kJobFields = Object.freeze({
  input: stringField(),
  dir: stringField(),
  format: enumField(['auto', 'jsonl', 'csv'] as const),
  idField: stringField(),
  textField: stringField(),
  namespaceField: stringField(),
  metadataField: stringField(),
  keepMissing: booleanField(),
  full: booleanField(),
  checkpointItems: intField(1, 1_000_000_000),
  checkpointSeconds: numberField(0, 86_400),
  chunkSize: intField(1, 1_000_000),
  snippetChars: intField(0, 100_000),
  maxRecordBytes: intField(1024, 2 ** 30),
  embeddingCache: booleanField(),
  refitPca: booleanField(),
}) satisfies FieldMap;

/** `vecforge search`. */
export const kSearchFields = Object.freeze({
  query: stringField(),
  queries: stringField(),
  k: intField(1, 65_536),
  ef: intField(1, 1_048_576),
  namespace: stringField(),
}) satisfies FieldMap;

/** What the command line prints. */
export const kOutputFields = Object.freeze({
  json: booleanField(),
  progress: enumField(['auto', 'bar', 'log', 'off'] as const),
}) satisfies FieldMap;

/** Resolved `index` section. */
export interface IndexSection {
  readonly space: 'cosine' | 'ip' | 'l2';
  readonly m: number;
  readonly efConstruction: number;
  readonly efSearch: number;
  /** Dims after PCA; undefined: no PCA. */
  readonly pca: number | undefined;
  /** PCA fit sample; undefined: the library default. */
  readonly pcaSample: number | undefined;
  /** With PCA: keep the full vectors and rerank exactly. */
  readonly rerank: boolean;
  /** Keep a lexical index. */
  readonly lexical: boolean;
  /** Its stop words, k1 and b; undefined: the library defaults. */
  readonly stopWords: 'english' | 'none' | undefined;
  readonly bm25K1: number | undefined;
  readonly bm25B: number | undefined;
}

/** Resolved `job` section; `input` and `dir` have no default. */
export interface JobSection {
  readonly input: string | undefined;
  readonly dir: string | undefined;
  readonly format: 'auto' | 'jsonl' | 'csv';
  readonly idField: string;
  readonly textField: string;
  readonly namespaceField: string;
  readonly metadataField: string;
  readonly keepMissing: boolean;
  readonly full: boolean;
  readonly checkpointItems: number;
  readonly checkpointSeconds: number;
  readonly chunkSize: number;
  readonly snippetChars: number;
  readonly maxRecordBytes: number;
  readonly embeddingCache: boolean;
  /** Reindex: refit the PCA model on the current data and rebuild the graph. */
  readonly refitPca: boolean;
}

/** Resolved `search` section; only `k` has a default. */
export interface SearchSection {
  readonly query: string | undefined;
  readonly queries: string | undefined;
  readonly k: number;
  readonly ef: number | undefined;
  readonly namespace: string | undefined;
}

/** Resolved `output` section. */
export interface OutputSection {
  readonly json: boolean;
  readonly progress: 'auto' | 'bar' | 'log' | 'off';
}

/** Defaults of the `index` section. */
export const kDefaultIndexSection: IndexSection = Object.freeze({ space: kDefaultIndexOptions.space, m: kDefaultIndexOptions.m, efConstruction: kDefaultIndexOptions.efConstruction, efSearch: kDefaultIndexOptions.efSearch, pca: undefined, pcaSample: undefined, rerank: true, lexical: true, stopWords: undefined, bm25K1: undefined, bm25B: undefined });

/** Defaults of the `job` section. */
export const kDefaultJobSection: JobSection = Object.freeze({
  input: undefined,
  dir: undefined,
  format: 'auto',
  idField: 'id',
  textField: 'text',
  namespaceField: 'namespace',
  metadataField: 'metadata',
  keepMissing: false,
  full: false,
  checkpointItems: 50_000,
  checkpointSeconds: 60,
  chunkSize: 4096,
  snippetChars: 200,
  maxRecordBytes: 8 * 1024 * 1024,
  embeddingCache: true,
  refitPca: false,
});

/** Defaults of the `search` section. */
export const kDefaultSearchSection: SearchSection = Object.freeze({ query: undefined, queries: undefined, k: 10, ef: undefined, namespace: undefined });

/** Defaults of the `output` section. */
export const kDefaultOutputSection: OutputSection = Object.freeze({ json: false, progress: 'auto' });
