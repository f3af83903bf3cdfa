/**
 * Makes the small sample corpus committed in `data/`: a deterministic,
 * diverse subset of WordNet 3.0 glosses. Run once through
 * `npm run bench:data -- --sample-corpus data`; the query set
 * (`data/sample-queries.jsonl`) is written by hand and only checked here.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VecforgeError } from 'vecforge';
import { throwIfAborted, writeFileAtomicSync } from '../internals.js';
import { readWordNet, type WordNetPartOfSpeech, type WordNetSynset, withWordNet } from './wordnet.js';

/** Every this-many-th eligible synset goes into the sample. */
export const kSampleStride = 28;

/** A synset is eligible when its definition has at least this many words. */
export const kSampleMinWords = 4;

/** Rows of the sample corpus repeated in the CSV file. */
export const kSampleCsvRows = 200;

/** File names of the sample corpus inside the data directory. */
export const kSampleFiles = Object.freeze({
  corpus: 'sample-corpus.jsonl',
  csv: 'sample-corpus.csv',
  queries: 'sample-queries.jsonl',
});

/** One document of the sample corpus. */
export interface SampleDocument {
  /** The synset id, e.g. `dog.n.01`. */
  readonly id: string;
  /** The definition, without example sentences. */
  readonly text: string;
  /** What else WordNet says about the synset. */
  readonly metadata: {
    /** The part of speech. */
    readonly pos: WordNetPartOfSpeech;
    /** The synset's lemmas, multiword ones joined by `_`. */
    readonly lemmas: readonly string[];
    /** The lexicographer file, e.g. `noun.animal`. */
    readonly lexname: string;
    /** The gloss's example sentences. */
    readonly examples: readonly string[];
  };
  /** The part of speech again, as the document's namespace. */
  readonly namespace: WordNetPartOfSpeech;
}

/** Options of {@link writeSampleCorpus}. */
export interface WriteSampleCorpusOptions {
  /** A directory already holding the WordNet database files. @default undefined */
  readonly dictDir?: string;
  /** Cancels the download. @default undefined */
  readonly signal?: AbortSignal;
}

/** What {@link writeSampleCorpus} wrote. */
export interface SampleCorpusFiles {
  /** The JSONL corpus. */
  readonly corpus: string;
  /** The CSV copy of its first {@link kSampleCsvRows} rows. */
  readonly csv: string;
  /** Documents in the corpus. */
  readonly count: number;
  /** Query ids of `sample-queries.jsonl` that name no document (empty when all resolve or there is no query file). */
  readonly unknownQueryIds: readonly string[];
}

/**
 * Writes `sample-corpus.jsonl` and `sample-corpus.csv` into `dataDir` from
 * WordNet 3.0, then checks the hand-written `sample-queries.jsonl` there
 * against the corpus.
 * @param dataDir - the directory to write into (created when missing).
 * @param options - where WordNet is, and a signal.
 * @returns the files written and the query ids that did not resolve.
 * @throws {VecforgeError} ERR_IO when WordNet cannot be fetched or a write fails; ERR_ABORTED when cancelled.
 */
export async function writeSampleCorpus(dataDir: string, options: WriteSampleCorpusOptions = {}): Promise<SampleCorpusFiles> {
  if (typeof dataDir !== 'string' || dataDir === '') throw new TypeError(`dataDir must be a non-empty string, got ${String(dataDir)}`);
  throwIfAborted(options.signal);
  const synsets = await withWordNet(options, readWordNet);
  const documents = selectSample(synsets);
  mkdirSync(dataDir, { recursive: true });
  const corpus = join(dataDir, kSampleFiles.corpus);
  const csv = join(dataDir, kSampleFiles.csv);
  writeFileAtomicSync(corpus, documents.map((document) => `${JSON.stringify(document)}\n`));
  writeFileAtomicSync(csv, toCsv(documents.slice(0, kSampleCsvRows)));
  return { corpus, csv, count: documents.length, unknownQueryIds: checkQueries(join(dataDir, kSampleFiles.queries), documents) };
}

/**
 * Picks the sample: of the synsets (nouns, verbs, adjectives, adverbs, in
 * file order) whose definition has at least {@link kSampleMinWords} words,
 * every {@link kSampleStride}-th, starting with the first, plus every
 * synset whose definition quotes a phrase (14 in WordNet 3.0; they exercise
 * quoting in CSV and JSON readers).
 *
 * Order: the quoting definitions first, then the rest with the parts of
 * speech interleaved in proportion (each document sorted by its relative
 * position within its part of speech), so that any prefix, such as the
 * CSV's first {@link kSampleCsvRows} rows, covers every part of speech.
 * @param synsets - the synsets, as {@link readWordNet} returns them.
 * @returns the sample documents.
 */
export function selectSample(synsets: readonly WordNetSynset[]): SampleDocument[] {
  const quoting: WordNetSynset[] = [];
  const strided: WordNetSynset[] = [];
  let eligible = 0;
  for (const synset of synsets) {
    const picked = synset.definition.split(/\s+/).filter(Boolean).length >= kSampleMinWords && eligible++ % kSampleStride === 0;
    if (synset.definition.includes('"')) quoting.push(synset);
    else if (picked) strided.push(synset);
  }
  const partCounts = new Map<WordNetPartOfSpeech, number>();
  for (const synset of strided) partCounts.set(synset.pos, (partCounts.get(synset.pos) ?? 0) + 1);
  const seen = new Map<WordNetPartOfSpeech, number>();
  const keyed = strided.map((synset, order) => {
    const rank = seen.get(synset.pos) ?? 0;
    seen.set(synset.pos, rank + 1);
    return { synset, order, key: (rank + 0.5) / (partCounts.get(synset.pos) as number) };
  });
  keyed.sort((a, b) => a.key - b.key || a.order - b.order);
  return [...quoting, ...keyed.map(({ synset }) => synset)].map((synset) => ({
    id: synset.id,
    text: synset.definition,
    metadata: { pos: synset.pos, lemmas: synset.lemmas, lexname: synset.lexname, examples: synset.examples },
    namespace: synset.pos,
  }));
}

/**
 * Formats documents as RFC 4180 CSV: header `id,text,namespace`, CRLF line
 * ends, a field quoted when it holds a comma, a double quote, a line break or
 * edge spaces, and a double quote inside a quoted field doubled.
 * @param documents - the rows.
 * @returns the CSV text.
 */
export function toCsv(documents: readonly { readonly id: string; readonly text: string; readonly namespace: string }[]): string {
  const lines = ['id,text,namespace'];
  for (const document of documents) lines.push([document.id, document.text, document.namespace].map(csvField).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function checkQueries(path: string, documents: readonly SampleDocument[]): string[] {
  if (!existsSync(path)) return [];
  const ids = new Set(documents.map((document) => document.id));
  const unknown: string[] = [];
  for (const [n, line] of readFileSync(path, 'utf8').split('\n').entries()) {
    if (line.trim() === '') continue;
    let query: { expected?: unknown };
    try {
      query = JSON.parse(line) as { expected?: unknown };
    } catch (error) {
      throw new VecforgeError('ERR_INVALID_INPUT', `${path}:${n + 1} is not JSON`, { cause: error });
    }
    for (const id of Array.isArray(query.expected) ? query.expected : []) {
      if (typeof id !== 'string' || !ids.has(id)) unknown.push(String(id));
    }
  }
  return unknown;
}
