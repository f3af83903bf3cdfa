/**
 * Real dictionary text from Debian's dictd packages: GCIDE (`dict-gcide`,
 * the GNU Collaborative International Dictionary of English, Webster 1913
 * plus WordNet additions) and FOLDOC (`dict-foldoc`, the Free On-line
 * Dictionary of Computing). `apt-get download` fetches the package into a
 * temporary directory, `dpkg-deb -x` unpacks it, and the `.index` (headword,
 * base64 offset, base64 length) and the gzip'd `.dict.dz` are read; nothing
 * is installed and nothing is committed. Parsed entries are cached as JSONL
 * in the bench data directory.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { VecforgeError } from 'vecforge';
import { writeFileAtomicSync } from '../internals.js';
import { runDebianTool } from './wordnet.js';

/** What a dictd fetch needs, for the message when a tool is missing. */
const kDictdToolsMissing = 'fetching the dictd corpora needs apt-get and dpkg-deb (Debian or Ubuntu)';

/** The dictionaries, by name: their Debian package and file stem. */
export const kDictionaries = Object.freeze({
  gcide: Object.freeze({ pkg: 'dict-gcide', stem: 'gcide' }),
  foldoc: Object.freeze({ pkg: 'dict-foldoc', stem: 'foldoc' }),
});

/** A dictionary's name. */
export type DictionaryName = keyof typeof kDictionaries;

/** Bumped when parsing or cleaning changes; part of the cache file name. */
export const kDictdFormatVersion = 1;

/** One dictionary entry. */
export interface DictEntry {
  /** The headword as the index lists it first. */
  readonly headword: string;
  /** The entry's body, cleaned (see {@link cleanEntry}), its senses apart. */
  readonly senses: readonly string[];
}

const kBase64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function decode64(s: string): number {
  let n = 0;
  for (const c of s) {
    const v = kBase64.indexOf(c);
    if (v < 0) throw new VecforgeError('ERR_IO', `bad base64 number ${JSON.stringify(s)} in a dictd index`);
    n = n * 64 + v;
  }
  return n;
}

/**
 * Cleans one entry's text: drops the headword line (headword,
 * pronunciation, part of speech), bracketed etymologies and source tags
 * (`[1913 Webster]`), attributions (`--Shak.`), cross-reference braces,
 * FOLDOC's dates and angle brackets; splits numbered senses ("1.", "2.").
 * @param raw - the entry as the .dict file holds it.
 * @returns the senses, each one line of text (empty when nothing is left).
 */
export function cleanEntry(raw: string): string[] {
  const lines = raw.split('\n');
  // The first line (and its continuation up to a closing bracket or a blank) names the headword.
  let start = 1;
  if ((lines[0]?.split('[').length ?? 0) > (lines[0]?.split(']').length ?? 0)) {
    while (start < lines.length && !(lines[start - 1] ?? '').includes(']')) start++;
  }
  const body = lines
    .slice(start)
    .join('\n')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/--[A-Z][^\n]*/g, ' ')
    .replace(/\(\d{4}-\d{2}-\d{2}\)/g, ' ')
    .replace(/[{}<>]/g, ' ');
  const senses = body
    .split(/\n\s*\d+\.\s+/)
    .map((s) => s.replace(/\s+/g, ' ').replace(/^\s*\d+\.\s+/, '').trim())
    .filter((s) => /[A-Za-z]{2}/.test(s));
  return senses;
}

/**
 * Reads a dictd pair of files.
 * @param indexPath - the `.index` file.
 * @param dictPath - the `.dict.dz` (gzip) or `.dict` file.
 * @returns the entries, one per distinct offset, in index order, skipping the `00-database-*` headers.
 */
export function readDictd(indexPath: string, dictPath: string): DictEntry[] {
  const raw = readFileSync(dictPath);
  const dict = dictPath.endsWith('.dz') ? gunzipSync(raw) : raw;
  const seen = new Set<number>();
  const out: DictEntry[] = [];
  for (const line of readFileSync(indexPath, 'utf8').split('\n')) {
    const [headword, off, len] = line.split('\t');
    if (headword === undefined || off === undefined || len === undefined || headword.startsWith('00-database') || headword.startsWith('00database')) continue;
    const offset = decode64(off);
    if (seen.has(offset)) continue;
    seen.add(offset);
    const text = dict.subarray(offset, offset + decode64(len)).toString('utf8');
    const senses = cleanEntry(text);
    if (senses.length > 0) out.push({ headword, senses });
  }
  return out;
}

/**
 * The entries of a dictionary, from the cache or fetched and parsed.
 * @param name - gcide or foldoc.
 * @param cacheDir - the bench data directory.
 * @param signal - cancels the download.
 * @returns the entries.
 * @throws {VecforgeError} ERR_IO when apt-get or dpkg-deb is missing or fails.
 */
export async function prepareDictionary(name: DictionaryName, cacheDir: string, signal?: AbortSignal): Promise<DictEntry[]> {
  const path = join(cacheDir, `dictd-${name}-v${kDictdFormatVersion}.jsonl`);
  if (existsSync(path)) {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as DictEntry);
  }
  const { pkg, stem } = kDictionaries[name];
  const work = await mkdtemp(join(tmpdir(), `vecforge-${name}-`));
  try {
    await runDebianTool('apt-get', ['download', pkg], work, signal, kDictdToolsMissing);
    const deb = (await readdir(work)).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (deb === undefined) throw new VecforgeError('ERR_IO', `apt-get download left no ${pkg} .deb in ${work}`);
    const root = join(work, 'root');
    await runDebianTool('dpkg-deb', ['-x', join(work, deb), root], work, signal, kDictdToolsMissing);
    const dir = join(root, 'usr', 'share', 'dictd');
    const entries = readDictd(join(dir, `${stem}.index`), join(dir, `${stem}.dict.dz`));
    mkdirSync(cacheDir, { recursive: true });
    writeFileAtomicSync(path, entries.map((e) => `${JSON.stringify(e)}\n`));
    return entries;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

