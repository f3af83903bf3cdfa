/**
 * manifest.json of an index version: its shape, and the one parser every
 * reader goes through (open, verify, inspect, jobs' fork and publish). The
 * parser checks every field before anything acts on the manifest; in
 * particular every file name it lists must be a plain name inside the
 * version directory, so a hostile manifest cannot make a reader copy, link,
 * hash or open a file elsewhere.
 */
import { VecforgeError } from '../errors.js';
import { kHnswOptionRanges, kIndexSpaces } from './options.js';

/**
 * The index format this build writes, and the newest it reads: 2 since the
 * doc store's column segments (layout 3), which a build that reads only
 * version 1 would misread; such a build refuses a version 2 index with
 * ERR_INDEX_VERSION instead. Version 1 indexes are read, and the next save
 * converts them.
 */
export const kIndexFormatVersion = 2;

/** The longest file name a manifest may list, in UTF-16 code units. */
const kMaxFileNameLength = 255;
/** The most files a manifest may list. */
const kMaxManifestFiles = 1024;
/** The largest count, label or capacity (hnswlib's labels are 32-bit). */
const kMaxCount = 2 ** 32;

/** Size and checksum of one file of a version. */
export interface FileEntry {
  readonly bytes: number;
  readonly sha256: string;
}

/** manifest.json. */
export interface IndexManifest {
  readonly format: 'vecforge-index';
  readonly formatVersion: number;
  readonly createdAt: string;
  readonly model: { readonly id: string; readonly dims: number } | null;
  readonly space: 'cosine' | 'ip' | 'l2';
  /** Dims of the vectors in the graph (after PCA, when there is one). */
  readonly dims: number;
  readonly params: { readonly m: number; readonly efConstruction: number; readonly efSearch: number };
  readonly counts: { readonly count: number; readonly deleted: number; readonly nextLabel: number; readonly capacity: number };
  /** File name (a plain name inside the version directory) → size and SHA-256. */
  readonly files: Readonly<Record<string, FileEntry>>;
  /** Free-form sections later layers add (PCA, jobs). */
  readonly extra: Readonly<Record<string, unknown>>;
}

/**
 * Why a file name is not a plain name inside its directory.
 * @param name - a file name from a manifest.
 * @returns the reason, or null for a plain name.
 */
export function fileNameProblem(name: string): string | null {
  if (name === '') return 'is empty';
  if (name === '.' || name === '..') return 'names a directory';
  if (name.length > kMaxFileNameLength) return `is longer than ${kMaxFileNameLength} characters`;
  if (/[/\\]/.test(name)) return 'contains a path separator';
  // Control characters (NUL among them) have no place in a file name we write.
  if ([...name].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return 'contains a control character';
  if (/^[A-Za-z]:/.test(name)) return 'is a drive path';
  return null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/**
 * Parses manifest.json of a version and checks its shape: format and
 * format version first (a newer format may have another shape), then every
 * field, and every file name (see {@link fileNameProblem}) and entry.
 * @param text - the file's content.
 * @param dir - the index directory (for messages).
 * @param version - the version's name (for messages).
 * @returns the manifest.
 * @throws {VecforgeError} ERR_INDEX_CORRUPT naming the field or file entry that is not valid; ERR_INDEX_VERSION for a newer format.
 */
export function parseManifest(text: string, dir: string, version: string): IndexManifest {
  const where = `index ${dir}: ${version}/manifest.json`;
  const bad = (why: string): VecforgeError => new VecforgeError('ERR_INDEX_CORRUPT', `${where} ${why}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new VecforgeError('ERR_INDEX_CORRUPT', `${where} is not valid JSON`, { cause: error });
  }
  if (!isObject(raw) || raw.format !== 'vecforge-index' || !isInt(raw.formatVersion, 1, Number.MAX_SAFE_INTEGER)) {
    throw bad('is not a vecforge index manifest');
  }
  if (raw.formatVersion > kIndexFormatVersion) {
    throw new VecforgeError('ERR_INDEX_VERSION', `index ${dir} has format version ${raw.formatVersion}; this vecforge reads up to ${kIndexFormatVersion}: upgrade vecforge`);
  }
  const r = kHnswOptionRanges;
  if (typeof raw.createdAt !== 'string') throw bad('has no valid createdAt');
  const model = raw.model;
  if (model !== null && !(isObject(model) && typeof model.id === 'string' && isInt(model.dims, r.dims[0], r.dims[1]))) throw bad('has no valid model (null or { id, dims })');
  if (typeof raw.space !== 'string' || !(kIndexSpaces as readonly string[]).includes(raw.space)) throw bad(`has no valid space (one of ${kIndexSpaces.join(', ')})`);
  if (!isInt(raw.dims, r.dims[0], r.dims[1])) throw bad(`has no valid dims (an integer in [${r.dims[0]}, ${r.dims[1]}])`);
  const params = raw.params;
  if (!isObject(params)) throw bad('has no params object');
  for (const name of ['m', 'efConstruction', 'efSearch'] as const) {
    if (!isInt(params[name], r[name][0], r[name][1])) throw bad(`has no valid params.${name} (an integer in [${r[name][0]}, ${r[name][1]}])`);
  }
  const counts = raw.counts;
  if (!isObject(counts)) throw bad('has no counts object');
  for (const name of ['count', 'deleted', 'nextLabel', 'capacity'] as const) {
    if (!isInt(counts[name], 0, kMaxCount)) throw bad(`has no valid counts.${name} (an integer in [0, ${kMaxCount}])`);
  }
  const files = raw.files;
  if (!isObject(files)) throw bad('has no files object');
  const names = Object.keys(files);
  if (names.length > kMaxManifestFiles) throw bad(`lists ${names.length} files, more than ${kMaxManifestFiles}`);
  for (const name of names) {
    const problem = fileNameProblem(name);
    if (problem !== null) throw bad(`lists the file ${JSON.stringify(name)}, which ${problem}: a manifest may name only plain files inside its version directory`);
    const entry = files[name];
    if (!isObject(entry) || !isInt(entry.bytes, 0, Number.MAX_SAFE_INTEGER) || typeof entry.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(entry.sha256)) {
      throw bad(`has no valid entry for the file ${JSON.stringify(name)} ({ bytes, sha256 })`);
    }
  }
  for (const name of ['graph.hnsw', 'docs.lmdb']) if (!Object.hasOwn(files, name)) throw bad(`lists no ${name}`);
  const extra = raw.extra ?? {};
  if (!isObject(extra)) throw bad('has an extra section that is not an object');
  return { ...(raw as unknown as IndexManifest), extra };
}
