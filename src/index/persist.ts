/**
 * Index directories: one sub-directory per version, a manifest written last
 * with the size and SHA-256 of every file, and a `current` pointer swapped
 * atomically. No file reaches native code before its checksum matches.
 *
 * ```
 * DIR/current                 "v000003"
 * DIR/versions/v000003/       graph.hnsw, docs.lmdb, manifest.json, ...
 * ```
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VecforgeError } from '../errors.js';
import { writeFileAtomicSync } from '../store/atomic.js';
import { parseManifest, type FileEntry, type IndexManifest } from './manifest.js';

export { kIndexFormatVersion, type FileEntry, type IndexManifest } from './manifest.js';

/** Versions kept after a save (the newest and the one before). */
export const kKeptVersions = 2;

/**
 * SHA-256 and size of a file, streamed in chunks.
 * @param path - the file.
 * @returns its entry.
 */
export function hashFile(path: string): FileEntry {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1 << 22);
  let bytes = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, bytes);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    closeSync(fd);
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * The directory of the version `current` points at, or undefined for a
 * directory without a published version.
 * @param dir - the index directory.
 * @returns the version directory and name.
 */
export function currentVersion(dir: string): { name: string; path: string } | undefined {
  const pointer = join(dir, 'current');
  if (!existsSync(pointer)) return undefined;
  const name = readFileSync(pointer, 'utf8').trim();
  if (!/^v\d{6}$/.test(name)) throw new VecforgeError('ERR_INDEX_CORRUPT', `index ${dir}: the current pointer holds ${JSON.stringify(name.slice(0, 40))}, not a version name`);
  return { name, path: join(dir, 'versions', name) };
}

/**
 * Creates the directory for the next version (not yet published).
 * @param dir - the index directory.
 * @returns its name and path.
 */
export function nextVersionDir(dir: string): { name: string; path: string } {
  const versions = join(dir, 'versions');
  mkdirSync(versions, { recursive: true });
  let max = 0;
  for (const entry of readdirSync(versions)) {
    const m = /^v(\d{6})$/.exec(entry);
    if (m !== null) max = Math.max(max, Number(m[1]));
  }
  const name = `v${String(max + 1).padStart(6, '0')}`;
  const path = join(versions, name);
  rmSync(path, { recursive: true, force: true });
  mkdirSync(path);
  return { name, path };
}

/**
 * Writes the manifest of a fully written version, then points `current` at
 * it (atomic rename), then drops versions beyond {@link kKeptVersions}.
 * @param dir - the index directory.
 * @param version - the new version.
 * @param manifest - its manifest, files hashed.
 */
export function publishVersion(dir: string, version: { name: string; path: string }, manifest: IndexManifest): void {
  writeFileAtomicSync(join(version.path, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileAtomicSync(join(dir, 'current'), `${version.name}\n`);
  const versions = join(dir, 'versions');
  const names = readdirSync(versions)
    .filter((n) => /^v\d{6}$/.test(n))
    .sort();
  for (const old of names.slice(0, Math.max(0, names.length - kKeptVersions))) rmSync(join(versions, old), { recursive: true, force: true });
  // Half-written versions newer than current (a crash mid-save) are dropped too.
  for (const n of names) if (n > version.name) rmSync(join(versions, n), { recursive: true, force: true });
}

/**
 * Hashes the listed files of a version directory.
 * @param path - the version directory.
 * @param names - file names.
 * @returns name → entry.
 */
export function hashFiles(path: string, names: readonly string[]): Record<string, FileEntry> {
  const out: Record<string, FileEntry> = {};
  for (const name of names) out[name] = hashFile(join(path, name));
  return out;
}

/**
 * Reads and checks the current version of an index: the manifest parses,
 * its format version is one this build reads, and every file matches its
 * size and SHA-256.
 * @param dir - the index directory.
 * @returns the manifest and version directory.
 * @throws {VecforgeError} ERR_INDEX (no index), ERR_INDEX_VERSION (newer format), ERR_INDEX_CORRUPT (mismatch).
 */
export function readVerifiedVersion(dir: string): { manifest: IndexManifest; path: string; name: string } {
  const version = readVersionManifest(dir);
  verifyVersionFiles(dir, version, Object.keys(version.manifest.files));
  return version;
}

/**
 * Reads the manifest of the current version of an index and checks that
 * this build reads its format; the files are not checked (see
 * {@link verifyVersionFiles}).
 * @param dir - the index directory.
 * @returns the manifest and version directory.
 * @throws {VecforgeError} ERR_INDEX (no index), ERR_INDEX_VERSION (newer format), ERR_INDEX_CORRUPT (no valid manifest).
 */
export function readVersionManifest(dir: string): { manifest: IndexManifest; path: string; name: string } {
  const version = readCurrentManifest(dir);
  if (version === undefined) throw new VecforgeError('ERR_INDEX', `${dir} holds no published index (no "current" file)`);
  return version;
}

/**
 * Reads the manifest of the current version of an index directory through
 * {@link parseManifest} (its shape and file names checked, its files not).
 * @param dir - the index directory.
 * @returns the version and its manifest, or undefined when `current` is missing.
 * @throws {VecforgeError} ERR_INDEX_CORRUPT for a missing or invalid manifest; ERR_INDEX_VERSION for a newer format.
 */
export function readCurrentManifest(dir: string): { manifest: IndexManifest; path: string; name: string } | undefined {
  const version = currentVersion(dir);
  if (version === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(join(version.path, 'manifest.json'), 'utf8');
  } catch (error) {
    throw new VecforgeError('ERR_INDEX_CORRUPT', `index ${dir}: manifest of ${version.name} is missing or unreadable (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
  return { manifest: parseManifest(text, dir, version.name), path: version.path, name: version.name };
}

/**
 * Checks files of a version against its manifest: present, of the listed
 * size, of the listed SHA-256.
 * @param dir - the index directory (for messages).
 * @param version - the manifest and version directory.
 * @param names - the files to check; each must be listed in the manifest.
 * @param options - `checksum: false` checks presence and size only: the
 *   caller checks the SHA-256 itself before the file reaches native code
 *   (see {@link fileMismatchError}). @default { checksum: true }
 * @throws {VecforgeError} ERR_INDEX_CORRUPT for a file missing, unlisted, or not matching.
 */
export function verifyVersionFiles(dir: string, version: { manifest: IndexManifest; path: string; name: string }, names: readonly string[], options: { readonly checksum?: boolean } = {}): void {
  for (const name of names) {
    const entry = version.manifest.files[name];
    if (entry === undefined) throw new VecforgeError('ERR_INDEX_CORRUPT', `index ${dir}: the manifest of ${version.name} lists no ${name}`);
    const path = join(version.path, name);
    if (!existsSync(path)) throw new VecforgeError('ERR_INDEX_CORRUPT', `index ${dir}: file ${name} of ${version.name} is missing`);
    const size = statSync(path).size;
    if (size !== entry.bytes) throw fileMismatchError(dir, name, entry, { bytes: size, sha256: '' });
    if (options.checksum !== false && hashFile(path).sha256 !== entry.sha256) throw fileMismatchError(dir, name, entry, { bytes: size, sha256: '' });
  }
}

/**
 * The error of a version file that does not match its manifest entry.
 * @param dir - the index directory (for messages).
 * @param name - the file's name in the version.
 * @param expected - its manifest entry.
 * @param actual - what the file holds.
 * @returns an ERR_INDEX_CORRUPT error naming the size or checksum.
 */
export function fileMismatchError(dir: string, name: string, expected: FileEntry, actual: FileEntry): VecforgeError {
  if (actual.bytes !== expected.bytes) return new VecforgeError('ERR_INDEX_CORRUPT', `index ${dir}: file ${name} is ${actual.bytes} bytes, the manifest says ${expected.bytes} (truncated or replaced)`);
  return new VecforgeError('ERR_INDEX_CORRUPT', `index ${dir}: file ${name} does not match its checksum`);
}
