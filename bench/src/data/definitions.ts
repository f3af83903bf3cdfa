/**
 * The definitions benchmark corpus: real short English texts, the glosses of
 * WordNet 3.0 (Debian's `wordnet-base`), as JSONL `{id, text, namespace}`.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { throwIfAborted, writeFileAtomicSync } from '../internals.js';
import { readWordNet, type WordNetSynset, withWordNet } from './wordnet.js';

/** Bumped whenever the selection or the line format changes; part of the file name. */
export const kDefinitionsFormatVersion = 1;

/** Options of {@link prepareDefinitions}. */
export interface PrepareDefinitionsOptions {
  /** The directory the corpus is written to (created when missing). */
  readonly cacheDir: string;
  /**
   * How many texts to write, an integer ≥ 1. WordNet 3.0 has 117,659
   * synsets; past that, example sentences are added (about 165,000 texts
   * in all).
   * @default 100000
   */
  readonly count?: number;
  /**
   * A directory already holding the WordNet database files; by default the
   * installed `wordnet-base`, or one downloaded with `apt-get download`.
   * @default undefined
   */
  readonly dictDir?: string;
  /** Cancels the preparation. @default undefined */
  readonly signal?: AbortSignal;
}

/** The defaults of {@link PrepareDefinitionsOptions}. */
export const kDefaultPrepareDefinitionsOptions = Object.freeze({ count: 100_000 });

/** One line of the definitions corpus. */
export interface DefinitionRecord {
  /** The synset id (`dog.n.01`), or `<synset id>#ex<n>` for its n-th example sentence. */
  readonly id: string;
  /** The definition, or the example sentence. */
  readonly text: string;
  /** The part of speech: `noun`, `verb`, `adjective` or `adverb`. */
  readonly namespace: string;
}

/** Where the definitions corpus is. */
export interface DefinitionsCorpus {
  /** The JSONL file, one {@link DefinitionRecord} a line. */
  readonly path: string;
  /** Its number of lines. */
  readonly count: number;
  /** Whether the file was already in the cache. */
  readonly reused: boolean;
}

/**
 * Writes `count` WordNet texts as JSONL into `cacheDir`, or reuses the file
 * a previous run left there (it is written to a temporary name and renamed,
 * so a file under the final name is complete).
 *
 * The texts are the synsets' definitions (nouns, verbs, adjectives, adverbs,
 * in file order), thinned evenly when `count` is smaller: text i of n is
 * definition floor(i × total / n), so every part of speech keeps its share.
 * When `count` exceeds the synsets, example sentences fill the rest, thinned
 * the same way.
 * @param options - where to write, how many texts.
 * @returns the file and its line count.
 * @throws {TypeError} when `cacheDir` is not a non-empty string.
 * @throws {RangeError} when `count` is not a positive integer or exceeds the texts WordNet holds.
 * @throws {VecforgeError} ERR_IO when apt-get or dpkg-deb is missing or fails, or a write fails; ERR_ABORTED when cancelled.
 */
export async function prepareDefinitions(options: PrepareDefinitionsOptions): Promise<DefinitionsCorpus> {
  const cacheDir = options.cacheDir;
  if (typeof cacheDir !== 'string' || cacheDir === '') {
    throw new TypeError(`options.cacheDir must be a non-empty string, got ${String(cacheDir)}`);
  }
  const count = options.count ?? kDefaultPrepareDefinitionsOptions.count;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`options.count must be an integer ≥ 1, got ${count}`);
  throwIfAborted(options.signal);
  const path = join(cacheDir, `wordnet-definitions-v${kDefinitionsFormatVersion}-${count}.jsonl`);
  if (existsSync(path)) return { path, count: countLines(path), reused: true };

  const synsets = await withWordNet({ dictDir: options.dictDir, signal: options.signal }, readWordNet);
  throwIfAborted(options.signal);
  const records = selectDefinitions(synsets, count);
  mkdirSync(cacheDir, { recursive: true });
  writeFileAtomicSync(path, records.map((record) => `${JSON.stringify(record)}\n`));
  return { path, count: records.length, reused: false };
}

/**
 * Picks `count` texts from parsed synsets, as {@link prepareDefinitions} describes.
 * @param synsets - the synsets, as {@link readWordNet} returns them.
 * @param count - how many texts, an integer ≥ 1.
 * @returns the records, definitions first.
 * @throws {RangeError} when `count` exceeds the definitions and examples available.
 */
export function selectDefinitions(synsets: readonly WordNetSynset[], count: number): DefinitionRecord[] {
  const definitions: DefinitionRecord[] = [];
  for (const synset of synsets) {
    if (synset.definition !== '') definitions.push({ id: synset.id, text: synset.definition, namespace: synset.pos });
  }
  if (count <= definitions.length) return thin(definitions, count);
  const examples: DefinitionRecord[] = [];
  for (const synset of synsets) {
    for (const [i, text] of synset.examples.entries()) examples.push({ id: `${synset.id}#ex${i + 1}`, text, namespace: synset.pos });
  }
  const missing = count - definitions.length;
  if (missing > examples.length) {
    throw new RangeError(
      `options.count must be at most ${definitions.length + examples.length} (WordNet's definitions and examples), got ${count}`,
    );
  }
  return [...definitions, ...thin(examples, missing)];
}

function thin<T>(items: readonly T[], count: number): T[] {
  const out: T[] = [];
  for (let i = 0; i < count; i++) out.push(items[Math.floor((i * items.length) / count)] as T);
  return out;
}

function countLines(path: string): number {
  const text = readFileSync(path, 'utf8');
  let lines = 0;
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) lines++;
  return lines;
}

/**
 * Reads the texts of a definitions JSONL file.
 * @param path - the corpus file.
 * @param limit - at most this many texts.
 * @returns the texts, in file order.
 */
export function readDefinitionTexts(path: string, limit: number): string[] {
  const out: string[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    out.push((JSON.parse(line) as { text: string }).text);
    if (out.length >= limit) break;
  }
  return out;
}
