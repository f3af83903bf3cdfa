/**
 * A small reader for the WordNet 3.0 database files (`data.*`, `index.*`)
 * and the code that fetches them from Debian's `wordnet-base` package.
 *
 * Synset ids follow NLTK's naming, `<first lemma>.<pos>.<sense>` (for
 * example `dog.n.01`), where `<sense>` is the synset's 1-based position in
 * the first lemma's entry of the `index.<pos>` file, so ids match what
 * `nltk.corpus.wordnet.synset('dog.n.01')` names.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VecforgeError } from 'vecforge';
import { throwIfAborted } from '../internals.js';

const execFileAsync = promisify(execFile);

/** WordNet's one-letter synset types: noun, verb, adjective, adjective satellite, adverb. */
export type WordNetSynsetType = 'n' | 'v' | 'a' | 's' | 'r';

/** A part of speech, as vecforge's sample corpora name it (and use it as namespace). */
export type WordNetPartOfSpeech = 'noun' | 'verb' | 'adjective' | 'adverb';

/** The four WordNet database files, in the order the readers visit them. */
export const kWordNetFiles = Object.freeze(['noun', 'verb', 'adj', 'adv'] as const);

/** One WordNet database file suffix (`data.<suffix>`, `index.<suffix>`). */
export type WordNetFile = (typeof kWordNetFiles)[number];

/** The directory where Debian's `wordnet-base` package installs the database. */
export const kDebianWordNetDir = '/usr/share/wordnet';

/** The Debian package that holds the WordNet 3.0 database. */
export const kWordNetPackage = 'wordnet-base';

/** WordNet's lexicographer file names, indexed by `lex_filenum` (see lexnames(5WN)). */
export const kLexNames = Object.freeze([
  'adj.all', 'adj.pert', 'adv.all', 'noun.Tops', 'noun.act', 'noun.animal', 'noun.artifact',
  'noun.attribute', 'noun.body', 'noun.cognition', 'noun.communication', 'noun.event', 'noun.feeling',
  'noun.food', 'noun.group', 'noun.location', 'noun.motive', 'noun.object', 'noun.person',
  'noun.phenomenon', 'noun.plant', 'noun.possession', 'noun.process', 'noun.quantity', 'noun.relation',
  'noun.shape', 'noun.state', 'noun.substance', 'noun.time', 'verb.body', 'verb.change', 'verb.cognition',
  'verb.communication', 'verb.competition', 'verb.consumption', 'verb.contact', 'verb.creation',
  'verb.emotion', 'verb.motion', 'verb.perception', 'verb.possession', 'verb.social', 'verb.stative',
  'verb.weather', 'adj.ppl',
] as const);

const kPartOfSpeech: Readonly<Record<WordNetSynsetType, WordNetPartOfSpeech>> = Object.freeze({
  n: 'noun',
  v: 'verb',
  a: 'adjective',
  s: 'adjective',
  r: 'adverb',
});

/** One WordNet synset, with its gloss split into definition and examples. */
export interface WordNetSynset {
  /** NLTK-style id, e.g. `dog.n.01`. */
  readonly id: string;
  /** Byte offset of the synset in its `data.*` file (WordNet's own key). */
  readonly offset: number;
  /** WordNet's synset type letter. */
  readonly type: WordNetSynsetType;
  /** The part of speech (adjective satellites count as adjectives). */
  readonly pos: WordNetPartOfSpeech;
  /** The lexicographer file, e.g. `noun.animal`. */
  readonly lexname: string;
  /** Lemmas in WordNet's order, multiword lemmas joined by `_`, case kept. */
  readonly lemmas: readonly string[];
  /** The definition part of the gloss, without the example sentences. */
  readonly definition: string;
  /** The quoted example sentences of the gloss, quotes removed. */
  readonly examples: readonly string[];
}

/** A parsed gloss. */
export interface WordNetGloss {
  /** The definition, its `;`-separated parts rejoined with `; `. */
  readonly definition: string;
  /** The example sentences, without their quotes or trailing attributions. */
  readonly examples: readonly string[];
}

/**
 * Splits a WordNet gloss into its definition and its quoted example
 * sentences. Parts are separated by `;` outside double quotes; a part that
 * starts with a double quote is an example, and so is a quoted tail glued
 * on by `:`, `,` or `)`. Quotes inside the definition (`especially in the
 * phrase "make strides"`) stay in the definition.
 * @param gloss - the text after `|` on a `data.*` line.
 * @returns the definition and the examples.
 */
export function parseGloss(gloss: string): WordNetGloss {
  const { parts, balanced } = splitGlossParts(gloss.trim());
  const definition: string[] = [];
  const examples: string[] = [];
  for (const [index, raw] of parts.entries()) {
    let part = raw.trim();
    if (part === '') continue;
    if (part.startsWith('"')) {
      const close = part.lastIndexOf('"');
      // An example may carry an attribution after its closing quote
      // (`"..." - Shakespeare`); the sentence is what lies inside the quotes.
      pushExample(examples, close > 0 ? part.slice(1, close) : part.slice(1));
      continue;
    }
    if (!balanced) {
      // A few glosses lose an example's opening quote (`close in; darkness
      // enclosed him"`): a later part ending in a quote is that example, and
      // any other stray quote is dropped.
      if (index > 0 && part.endsWith('"')) {
        pushExample(examples, part.slice(0, -1));
        continue;
      }
      part = part.replaceAll('"', '').trim();
    } else {
      // Some examples are glued to the definition by `:`, `,` or `)` instead
      // of `;` (`assail or attack on all sides: "The zebra was beset"`). A
      // quote after a word stays: `especially in the phrase "make strides"`.
      const glued = /^(.*?[:,)])\s*"([^"]*)"$/.exec(part);
      if (glued !== null) {
        part = (glued[1] as string).replace(/[:,]$/, '').trim();
        pushExample(examples, glued[2] as string);
      }
    }
    if (part !== '') definition.push(part);
  }
  return { definition: definition.join('; '), examples };
}

function pushExample(examples: string[], text: string): void {
  const sentence = text.trim();
  if (sentence !== '') examples.push(sentence);
}

function splitGlossParts(gloss: string): { parts: string[]; balanced: boolean } {
  let quotes = 0;
  for (const ch of gloss) if (ch === '"') quotes++;
  // Unbalanced quotes would swallow the rest of the gloss: fall back to a
  // plain split.
  if (quotes % 2 !== 0) return { parts: gloss.split(';'), balanced: false };
  const parts: string[] = [];
  let inQuote = false;
  let start = 0;
  for (let i = 0; i < gloss.length; i++) {
    const ch = gloss[i];
    if (ch === '"') inQuote = !inQuote;
    else if (ch === ';' && !inQuote) {
      parts.push(gloss.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(gloss.slice(start));
  return { parts, balanced: true };
}

/**
 * Parses an `index.<pos>` file into a map from lowercase lemma to the
 * offsets of its synsets, in sense order.
 * @param text - the file's content.
 * @returns lemma → synset offsets.
 * @throws {VecforgeError} ERR_INVALID_INPUT on a malformed line.
 */
export function parseIndexFile(text: string): Map<string, number[]> {
  const senses = new Map<string, number[]>();
  for (const line of text.split('\n')) {
    // The licence header lines start with two spaces.
    if (line === '' || line.startsWith(' ')) continue;
    const fields = line.trim().split(' ');
    const lemma = fields[0];
    const synsetCount = Number(fields[2]);
    if (lemma === undefined || !Number.isInteger(synsetCount) || synsetCount < 1 || fields.length < 4 + synsetCount) {
      throw new VecforgeError('ERR_INVALID_INPUT', `malformed WordNet index line: ${line.slice(0, 80)}`);
    }
    senses.set(lemma, fields.slice(fields.length - synsetCount).map(Number));
  }
  return senses;
}

/**
 * Parses a `data.<pos>` file.
 * @param text - the file's content.
 * @param senses - the matching `index.<pos>` file, parsed by {@link parseIndexFile}.
 * @returns the synsets in file order.
 * @throws {VecforgeError} ERR_INVALID_INPUT on a malformed line or a lemma missing from the index.
 */
export function parseDataFile(text: string, senses: ReadonlyMap<string, readonly number[]>): WordNetSynset[] {
  const synsets: WordNetSynset[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith(' ')) continue;
    const bar = line.indexOf(' | ');
    const fields = (bar < 0 ? line : line.slice(0, bar)).trim().split(' ');
    const gloss = bar < 0 ? '' : line.slice(bar + 3);
    const offset = Number(fields[0]);
    const lexFileNumber = Number(fields[1]);
    const type = fields[2] as WordNetSynsetType;
    const wordCount = Number.parseInt(fields[3] ?? '', 16);
    const lexname = kLexNames[lexFileNumber];
    if (!Number.isInteger(offset) || lexname === undefined || !(type in kPartOfSpeech) || !(wordCount > 0)) {
      throw new VecforgeError('ERR_INVALID_INPUT', `malformed WordNet data line: ${line.slice(0, 80)}`);
    }
    const lemmas: string[] = [];
    for (let i = 0; i < wordCount; i++) {
      const word = fields[4 + 2 * i];
      if (word === undefined) {
        throw new VecforgeError('ERR_INVALID_INPUT', `WordNet synset ${fields[0]} lists fewer than ${wordCount} words`);
      }
      // Adjectives may carry a syntactic marker: (a), (p) or (ip).
      lemmas.push(word.replace(/\((?:a|p|ip)\)$/, ''));
    }
    const first = (lemmas[0] as string).toLowerCase();
    const sense = senses.get(first)?.indexOf(offset) ?? -1;
    if (sense < 0) {
      throw new VecforgeError('ERR_INVALID_INPUT', `WordNet lemma "${first}" of synset ${fields[0]} is missing from the index`);
    }
    const { definition, examples } = parseGloss(gloss);
    synsets.push({
      id: `${first}.${type}.${String(sense + 1).padStart(2, '0')}`,
      offset,
      type,
      pos: kPartOfSpeech[type],
      lexname,
      lemmas,
      definition,
      examples,
    });
  }
  return synsets;
}

/**
 * Reads every synset of a WordNet database directory: nouns, then verbs,
 * adjectives and adverbs, each in file order.
 * @param dictDir - a directory holding `data.noun`, `index.noun`, ... `data.adv`, `index.adv`.
 * @returns about 117,659 synsets for WordNet 3.0.
 * @throws {VecforgeError} ERR_IO when a file is missing; ERR_INVALID_INPUT when one is malformed.
 */
export function readWordNet(dictDir: string): WordNetSynset[] {
  const synsets: WordNetSynset[] = [];
  for (const file of kWordNetFiles) {
    const read = (name: string): string => {
      const path = join(dictDir, name);
      try {
        return readFileSync(path, 'latin1');
      } catch (error) {
        throw new VecforgeError('ERR_IO', `cannot read the WordNet file ${path}`, { cause: error });
      }
    };
    const senses = parseIndexFile(read(`index.${file}`));
    for (const synset of parseDataFile(read(`data.${file}`), senses)) synsets.push(synset);
  }
  return synsets;
}

/** Options of {@link withWordNet}. */
export interface WithWordNetOptions {
  /**
   * A directory that already holds the WordNet database files. When left
   * out, {@link kDebianWordNetDir} is used if `wordnet-base` is installed,
   * otherwise the package is downloaded with `apt-get download`.
   * @default undefined
   */
  readonly dictDir?: string;
  /** Cancels the download. @default undefined */
  readonly signal?: AbortSignal;
}

/**
 * Runs `use` with a directory holding the WordNet 3.0 database files,
 * downloading and unpacking Debian's `wordnet-base` package into a
 * temporary directory when it is not installed, and removing that
 * directory afterwards.
 *
 * The download runs `apt-get download wordnet-base` (no root needed) and
 * `dpkg-deb -x`. Only when apt has no package lists yet does it run
 * `apt-get update`, which needs root.
 * @param options - where the files are, and a signal.
 * @param use - called with the directory.
 * @returns what `use` returns.
 * @throws {VecforgeError} ERR_IO when apt-get or dpkg-deb is missing or fails; ERR_ABORTED when cancelled.
 */
export async function withWordNet<T>(options: WithWordNetOptions, use: (dictDir: string) => T | Promise<T>): Promise<T> {
  throwIfAborted(options.signal);
  if (options.dictDir !== undefined) return use(options.dictDir);
  if (existsSync(join(kDebianWordNetDir, 'data.noun'))) return use(kDebianWordNetDir);
  const workDir = await mkdtemp(join(tmpdir(), 'vecforge-wordnet-'));
  try {
    const deb = await downloadDeb(workDir, options.signal);
    const root = join(workDir, 'root');
    await runDebianTool('dpkg-deb', ['-x', deb, root], workDir, options.signal);
    const dictDir = join(root, 'usr', 'share', 'wordnet');
    if (!existsSync(join(dictDir, 'data.noun'))) {
      throw new VecforgeError('ERR_IO', `the ${kWordNetPackage} package holds no ${kDebianWordNetDir}/data.noun`);
    }
    return await use(dictDir);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

async function downloadDeb(workDir: string, signal: AbortSignal | undefined): Promise<string> {
  try {
    await runDebianTool('apt-get', ['download', kWordNetPackage], workDir, signal);
  } catch (error) {
    if (!(error instanceof VecforgeError) || error.code !== 'ERR_IO' || !/Unable to locate package|no installation candidate/i.test(error.message)) {
      throw error;
    }
    // Fresh containers ship without package lists; only then refresh them.
    if (process.getuid?.() !== 0) {
      throw new VecforgeError(
        'ERR_IO',
        `apt-get cannot find ${kWordNetPackage} and "apt-get update" needs root: run it as root, or pass a WordNet directory`,
        { cause: error },
      );
    }
    await runDebianTool('apt-get', ['update'], workDir, signal);
    await runDebianTool('apt-get', ['download', kWordNetPackage], workDir, signal);
  }
  const deb = (await readdir(workDir)).find((name) => name.startsWith(`${kWordNetPackage}_`) && name.endsWith('.deb'));
  if (deb === undefined) throw new VecforgeError('ERR_IO', `apt-get download left no ${kWordNetPackage} .deb in ${workDir}`);
  return join(workDir, deb);
}

/**
 * Runs a Debian tool (apt-get, dpkg-deb) for a corpus fetch; shared by the WordNet and dictd fetches.
 * @param tool - the program.
 * @param args - its arguments.
 * @param cwd - where it runs.
 * @param signal - aborts it.
 * @param missing - what to say when the tool is not installed (what the fetch needs).
 * @throws {VecforgeError} ERR_IO naming the tool, or the command and its stderr.
 */
export async function runDebianTool(tool: string, args: string[], cwd: string, signal: AbortSignal | undefined, missing = 'fetching the WordNet corpus needs apt-get and dpkg-deb (Debian or Ubuntu), or an existing WordNet directory'): Promise<void> {
  throwIfAborted(signal);
  try {
    await execFileAsync(tool, args, { cwd, signal, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    throwIfAborted(signal);
    if ((error as { code?: unknown }).code === 'ENOENT') throw new VecforgeError('ERR_IO', `${tool} is not installed: ${missing}`, { cause: error });
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new VecforgeError('ERR_IO', `${tool} ${args.join(' ')} failed: ${stderr || String(error)}`, { cause: error });
  }
}
