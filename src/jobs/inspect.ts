/**
 * Looking at an index directory from outside: what it holds (`inspectIndex`,
 * no checksum work) and whether it is sound (`verifyIndex`).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Engine } from '../engine.js';
import { VecforgeError, errorMessage } from '../errors.js';
import { readVerifiedVersion, type IndexManifest } from '../index/persist.js';
import { stopWordsOfTokenizer } from '../index/lexical/tokenize.js';
import { graphBytesPerVector } from '../index/stats.js';
import type { VectorIndex } from '../index/vector-index.js';
import { fullRowBytes } from '../pca/full-vectors.js';
import type { PcaManifestSection } from '../pca/index-options.js';
import { kLockFile, processAlive, readLock, type LockInfo } from './lock.js';
import { readCheckpoint } from './checkpoint.js';
import type { JobCounts } from './types.js';
import { currentManifest, jobPaths } from './workdir.js';
import { isShardedIndex } from '../index/sharded/layout.js';
import { verifyShardedIndex } from './shards/inspect.js';

/** What {@link inspectIndex} reports. */
export interface IndexDescription {
  readonly dir: string;
  /** The published version `current` points at; null while a first build is still running. */
  readonly version: string | null;
  readonly manifest: IndexManifest | null;
  /** Every version directory, oldest first. */
  readonly versions: readonly string[];
  /** Bytes of each file of the current version, from the manifest. */
  readonly files: Readonly<Record<string, number>>;
  /** Bytes of the current version's files in all. */
  readonly totalBytes: number;
  /**
   * What a cheap look found wrong with the current version's files: one
   * missing, or not the size its manifest gives. Empty says nothing of their
   * bytes: `verifyIndex` checks those.
   */
  readonly problems: readonly string[];
  /** A job in progress or stopped (resumable), if any. */
  readonly job: {
    readonly phase: string;
    readonly kind: unknown;
    readonly line: number;
    readonly item: number;
    readonly counts: JobCounts;
    readonly updatedAt: string;
  } | null;
  /** The lock, if one is there, and whether its process is alive. */
  readonly lock: (LockInfo & { readonly alive: boolean }) | null;
  /** Lines of errors.jsonl (failures of the latest job). */
  readonly errors: number;
  /** PCA figures of the current version, from its manifest; null without PCA. */
  readonly pca: IndexPcaDescription | null;
  /** The lexical index of the current version, from its manifest; null without one. Memory per document: `index.stats().lexical`. */
  readonly lexical: { readonly k1: number; readonly b: number; readonly stopWords: string; readonly segments: number; readonly diskBytes: number; readonly diskBytesPerDoc: number } | null;
}

/** The PCA of an index, as {@link inspectIndex} reports it (the figures of `index.stats().pca`, from the manifest). */
export interface IndexPcaDescription {
  /** Dims before projection (what vectors and queries have). */
  readonly inputDims: number;
  /** Dims after projection (what the graph holds). */
  readonly outputDims: number;
  /** Share of the sample's variance the kept components explain; null before the fit. */
  readonly explainedVarianceRatio: number | null;
  /** Sample rows the model was fitted on; null before the fit. */
  readonly fittedOn: number | null;
  readonly sample: number;
  readonly rerank: boolean;
  readonly rerankFactor: number;
  readonly rerankStorage: string;
  /** Graph bytes per vector plus full-vector bytes held in memory, with PCA; and without PCA. */
  readonly bytesPerVector: { readonly withPca: number; readonly withoutPca: number };
  /** Vector bytes per vector held in memory (float32 graph vector + in-memory full vector), with PCA; and without (float32 input vector). */
  readonly vectorBytesPerVector: { readonly withPca: number; readonly withoutPca: number };
  /** Bytes an opened index holds in memory: the graph, plus the full vectors with `memory` storage. */
  readonly memoryBytes: number;
  /** Bytes of the version on disk, every file. */
  readonly diskBytes: number;
  /** Bytes of the full-vector file (0 without rerank). */
  readonly fullVectorBytes: number;
}

/**
 * Describes an index directory: manifest, counts, sizes, versions, any
 * job in progress, the lock. Reads only small files; looks at the sizes of
 * the current version's files (see `problems`), never at their bytes.
 * @param dir - the index directory.
 * @returns the description.
 * @throws {VecforgeError} ERR_INDEX when `dir` holds neither a published index nor a job; ERR_INDEX_CORRUPT when its manifest does not parse.
 */
export function inspectIndex(dir: string): IndexDescription {
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`dir must be a non-empty string, got ${String(dir)}`);
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new VecforgeError('ERR_INDEX', `${dir} does not exist`);
  const current = currentManifest(abs);
  const paths = jobPaths(abs);
  const cp = readCheckpoint(paths);
  if (current === undefined && cp === undefined) throw new VecforgeError('ERR_INDEX', `${dir} holds no published index (no "current" file)`);
  const files: Record<string, number> = {};
  let totalBytes = 0;
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(current?.manifest.files ?? {})) {
    files[name] = entry.bytes;
    totalBytes += entry.bytes;
    const problem = current === undefined ? null : fileProblem(join(current.path, name), name, entry.bytes);
    if (problem !== null) problems.push(problem);
  }
  const versionsDir = join(abs, 'versions');
  const versions = existsSync(versionsDir)
    ? readdirSync(versionsDir)
        .filter((n) => /^v\d{6}$/.test(n))
        .sort()
    : [];
  const job =
    cp !== undefined
      ? { phase: cp.phase, kind: cp.fingerprint.kind, line: cp.committed.position.line, item: cp.committed.position.item, counts: cp.committed.counts, updatedAt: cp.updatedAt }
      : null;
  const lockInfo = readLock(join(abs, kLockFile));
  const lock = lockInfo !== null ? { ...lockInfo, alive: processAlive(lockInfo.pid) } : null;
  let errors = 0;
  if (existsSync(paths.errors) && statSync(paths.errors).size > 0) {
    const text = readFileSync(paths.errors, 'utf8');
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) errors++;
  }
  const pca = current !== undefined ? describePca(current.manifest, files, totalBytes) : null;
  const lexical = current !== undefined ? describeLexical(current.manifest, files) : null;
  return { dir: abs, version: current?.name ?? null, manifest: current?.manifest ?? null, versions, files, totalBytes, problems, job, lock, errors, pca, lexical };
}

function describeLexical(manifest: IndexManifest, files: Readonly<Record<string, number>>): IndexDescription['lexical'] {
  const raw = manifest.extra?.lexical as { k1?: unknown; b?: unknown; tokenizer?: unknown; segments?: unknown } | undefined | false;
  if (raw === undefined || raw === null || raw === false || typeof raw !== 'object' || !Array.isArray(raw.segments)) return null;
  const segments = raw.segments as Array<{ file?: unknown }>;
  const diskBytes = segments.reduce((a, s) => a + (typeof s.file === 'string' ? (files[s.file] ?? 0) : 0), 0);
  return { k1: Number(raw.k1), b: Number(raw.b), stopWords: stopWordsOfTokenizer(raw.tokenizer) ?? `unknown (tokenizer ${JSON.stringify(raw.tokenizer)})`, segments: segments.length, diskBytes, diskBytesPerDoc: Math.round(diskBytes / Math.max(1, manifest.counts.count)) };
}

/** A published file that is missing or not the size its manifest gives, said in words; null when it looks whole. */
function fileProblem(path: string, name: string, bytes: number): string | null {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (error) {
    return `${name} is missing (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)})`;
  }
  return size === bytes ? null : `${name} is ${size} bytes, the manifest says ${bytes}`;
}

function describePca(manifest: IndexManifest, files: Readonly<Record<string, number>>, totalBytes: number): IndexPcaDescription | null {
  const raw = manifest.extra?.pca;
  if (raw === undefined || raw === null || typeof raw !== 'object') return null;
  const s = raw as Partial<PcaManifestSection>;
  const inputDims = s.inputDims ?? manifest.dims;
  const outputDims = s.outputDims ?? manifest.dims;
  const rerank = s.rerank === true;
  const storage = s.rerankStorage ?? 'disk';
  const rowBytes = rerank ? fullRowBytes(inputDims) : 0;
  const inMemory = storage === 'memory' ? rowBytes : 0;
  const fullFile = s.fullVectors?.file;
  const fullVectorBytes = fullFile !== undefined ? (files[fullFile] ?? 0) : 0;
  const m = manifest.params.m;
  return {
    inputDims,
    outputDims,
    explainedVarianceRatio: s.model?.explainedVarianceRatio ?? null,
    fittedOn: s.model?.fittedOn ?? null,
    sample: s.sample ?? 0,
    rerank,
    rerankFactor: s.rerankFactor ?? 0,
    rerankStorage: storage,
    bytesPerVector: { withPca: graphBytesPerVector(m, outputDims) + inMemory, withoutPca: graphBytesPerVector(m, inputDims) },
    vectorBytesPerVector: { withPca: 4 * outputDims + inMemory, withoutPca: 4 * inputDims },
    memoryBytes: (files['graph.hnsw'] ?? 0) + (storage === 'memory' ? fullVectorBytes : 0),
    diskBytes: totalBytes,
    fullVectorBytes,
  };
}

/** One check of {@link verifyIndex}. */
export interface VerifyCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** What {@link verifyIndex} reports. */
export interface VerifyReport {
  readonly dir: string;
  readonly version: string | null;
  readonly ok: boolean;
  readonly checks: readonly VerifyCheck[];
}

/**
 * Checks an index: every file against its manifest checksum and size; the
 * doc store's count against the manifest; that the graph loads; that the
 * graph's element counts match; that stored vectors find themselves.
 * @param dir - the index directory.
 * @param engine - an engine running the index's model.
 * @returns the checks; `ok` when all passed.
 */
export async function verifyIndex(dir: string, engine: Engine): Promise<VerifyReport> {
  const abs = resolve(dir);
  // A sharded index: every shard of its current set, then the merged whole.
  if (isShardedIndex(abs)) return verifyShardedIndex(abs, engine, verifyIndex);
  const checks: VerifyCheck[] = [];
  let manifest: IndexManifest;
  let version: string;
  try {
    const v = readVerifiedVersion(abs);
    manifest = v.manifest;
    version = v.name;
    const bytes = Object.values(manifest.files).reduce((a, f) => a + f.bytes, 0);
    checks.push({ name: 'checksums', ok: true, detail: `${Object.keys(manifest.files).length} files, ${bytes} bytes, sizes and SHA-256 match the manifest of ${v.name}` });
  } catch (error) {
    checks.push({ name: 'checksums', ok: false, detail: errorMessage(error) });
    return { dir: abs, version: null, ok: false, checks };
  }
  let index: VectorIndex;
  try {
    index = await engine.openIndex(abs);
    checks.push({ name: 'graph loads', ok: true, detail: `graph and doc store of ${version} open; doc store holds ${index.count} items as the manifest says` });
  } catch (error) {
    checks.push({ name: 'graph loads', ok: false, detail: errorMessage(error) });
    return { dir: abs, version, ok: false, checks };
  }
  try {
    const stats = index.stats();
    // The manifest records the graph's dims: after PCA, the projected ones.
    const graphDims = stats.pca?.outputDims ?? stats.dims;
    const countsOk = stats.count === manifest.counts.count && stats.deleted === manifest.counts.deleted && graphDims === manifest.dims;
    checks.push({
      name: 'counts',
      ok: countsOk,
      detail: `${stats.count} live, ${stats.deleted} deleted, ${graphDims} graph dims (manifest: ${manifest.counts.count}, ${manifest.counts.deleted}, ${manifest.dims})`,
    });
    if (stats.lexical !== null) {
      const lex = stats.lexical;
      checks.push({ name: 'lexical', ok: lex.docs <= stats.count, detail: `lexical index of ${lex.docs} documents (of ${stats.count}) in ${lex.segments} segments decodes` });
    }
    const ids = index.ids();
    const sample = Math.min(ids.length, 20);
    let found = 0;
    let withoutVector = 0;
    const step = Math.max(1, Math.floor(ids.length / Math.max(1, sample)));
    for (let i = 0, n = 0; n < sample && i < ids.length; i += step, n++) {
      const id = ids[i] as string;
      const vector = index.getVector(id);
      // No vector to search with (a text stored for the lexical side alone).
      if (vector === undefined) {
        withoutVector++;
        continue;
      }
      const hits = await index.search(vector, { k: Math.min(10, index.count), ef: Math.max(64, Math.min(10, index.count)) });
      if (hits.some((h) => h.id === id)) found++;
    }
    checks.push({ name: 'self search', ok: sample === withoutVector || found >= Math.ceil((sample - withoutVector) * 0.9), detail: `${found} of ${sample - withoutVector} sampled items find themselves in their top 10` });
  } finally {
    await index.close();
  }
  return { dir: abs, version, ok: checks.every((c) => c.ok), checks };
}
