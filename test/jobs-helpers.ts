/**
 * Helpers of the job and CLI tests: running the CLI, reading an index's
 * whole content for comparisons, and corpora derived from data/.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../src/index.js';
import { NpyWriter } from '../src/io/npy.js';
import { kRepoRoot, kTestCacheDir, tempDir } from './helpers.js';

/** The CLI entry. */
export const kBin = join(kRepoRoot, 'bin', 'vecforge.js');
/** The sample corpus. */
export const kCorpus = join(kRepoRoot, 'data', 'sample-corpus.jsonl');

/** What a CLI run returned. */
export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI to completion.
 * @param args - its arguments.
 * @param options - working directory and extra environment.
 * @returns exit status and output.
 */
export function vecforge(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(process.execPath, [kBin, ...args], {
    encoding: 'utf8',
    cwd: options.cwd ?? kRepoRoot,
    env: { ...process.env, VECFORGE_CACHE_DIR: kTestCacheDir, ...options.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One `--progress log` line: written on stderr once a checkpoint is committed. */
export interface CheckpointLine {
  readonly event: 'checkpoint';
  /** The line of the last record the checkpoint holds. */
  readonly line: number;
  readonly read: number;
}

/**
 * Starts the CLI (which must run with `--progress log`) and calls `act`
 * once, as soon as it reports its `checkpoint`-th checkpoint: the event
 * is caused by the job itself, never by a timer.
 * @param args - its arguments.
 * @param checkpoint - which checkpoint (1-based) triggers `act`.
 * @param act - what to do to the running process (send it signals).
 * @returns exit status (null when killed), the signal that ended it,
 *   output, and the checkpoints it reported.
 */
export function vecforgeAtCheckpoint(
  args: readonly string[],
  checkpoint: number,
  act: (child: ChildProcess) => void,
): Promise<CliResult & { signal: NodeJS.Signals | null; checkpoints: CheckpointLine[]; acted: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [kBin, ...args], { cwd: kRepoRoot, env: { ...process.env, VECFORGE_CACHE_DIR: kTestCacheDir } });
    let stdout = '';
    let stderr = '';
    let pending = '';
    let acted = false;
    const checkpoints: CheckpointLine[] = [];
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      stderr += text;
      pending += text;
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line.startsWith('{"event":"checkpoint"')) continue;
        checkpoints.push(JSON.parse(line) as CheckpointLine);
        if (checkpoints.length === checkpoint && !acted) {
          acted = true;
          act(child);
        }
      }
    });
    child.on('error', reject);
    child.on('close', (status, sig) => resolve({ status, signal: sig, stdout, stderr, checkpoints, acted }));
  });
}

/** An index's content: what "identical" compares. */
export interface IndexContent {
  readonly ids: string[];
  readonly records: Map<string, string>;
  readonly vectors: Map<string, Buffer>;
  /** The lexical index: its counts, and the ids and BM25 scores of a few lexical searches (equal scores mean equal N, avgdl and df). */
  readonly lexical: string;
}

/** Queries whose lexical answers stand for the lexical index's content. */
const kLexicalProbes = ['progress', 'agent someone', 'water animal', 'similar sense', 'quixotically'];

/**
 * Reads every id, doc record (namespace, metadata, hash) and stored vector.
 * @param engine - an engine.
 * @param dir - the index directory.
 * @returns the content.
 */
export async function indexContent(engine: Engine, dir: string): Promise<IndexContent> {
  const index = await engine.openIndex(dir);
  try {
    const ids = index.ids().sort();
    const records = new Map<string, string>();
    const vectors = new Map<string, Buffer>();
    for (const id of ids) {
      records.set(id, JSON.stringify(index.get(id)));
      const v = index.getVector(id);
      if (v !== undefined) vectors.set(id, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    }
    const lex = index.stats().lexical;
    const probes = lex === null || lex.docs === 0 ? [] : await index.searchBatch(kLexicalProbes, { mode: 'lexical', k: index.count });
    // Every match, sorted: ties are broken by label, which differ between indexes.
    const lexical = JSON.stringify({ docs: lex?.docs, terms: lex?.terms, postings: lex?.postings, probes: probes.map((hits) => hits.map((h) => `${h.id}:${h.score.toFixed(9)}`).sort()) });
    return { ids, records, vectors, lexical };
  } finally {
    await index.close();
  }
}

/**
 * Counts the differences between two contents.
 * @param a - one content.
 * @param b - the other.
 * @param compare - `lexical: false` leaves the lexical index out (a sharded index searches vectors only).
 * @returns a list of differences (empty when identical), at most 5.
 */
export function contentDifferences(a: IndexContent, b: IndexContent, compare: { readonly lexical?: boolean } = {}): string[] {
  const out: string[] = [];
  if (a.ids.length !== b.ids.length || a.ids.some((id, i) => id !== b.ids[i])) out.push(`ids differ: ${a.ids.length} vs ${b.ids.length}`);
  if (compare.lexical !== false && a.lexical !== b.lexical) out.push(`lexical index differs: ${a.lexical.slice(0, 300)} vs ${b.lexical.slice(0, 300)}`);
  for (const id of a.ids) {
    if (out.length >= 5) break;
    if (a.records.get(id) !== b.records.get(id)) out.push(`record ${id}: ${a.records.get(id)} vs ${b.records.get(id)}`);
    const va = a.vectors.get(id);
    const vb = b.vectors.get(id);
    // Both without a vector: a text stored for the lexical side alone.
    if ((va === undefined) !== (vb === undefined) || (va !== undefined && vb !== undefined && !va.equals(vb))) out.push(`vector ${id} differs`);
  }
  return out;
}

/** The sample corpus as parsed rows. */
export function corpusRows(): Array<{ id: string; text: string; metadata: Record<string, unknown>; namespace: string }> {
  return readFileSync(kCorpus, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { id: string; text: string; metadata: Record<string, unknown>; namespace: string });
}

/**
 * Writes rows as JSONL.
 * @param path - the file.
 * @param rows - the rows.
 * @returns the path.
 */
export function writeJsonl(path: string, rows: readonly unknown[]): string {
  writeFileSync(path, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return path;
}

/**
 * A corpus twice the sample's size: every document, then every document
 * again under a new id with a slightly different text, so a job over it
 * runs long enough to be killed in the middle.
 * @param path - where to write it.
 * @returns the path.
 */
export function writeDoubleCorpus(path: string): string {
  const rows = corpusRows();
  return writeJsonl(path, [...rows, ...rows.map((r) => ({ ...r, id: `${r.id}#2`, text: `${r.text} in another sense` }))]);
}

/**
 * Builds a small index of 40 × 8 given vectors with the CLI (`build --vectors`), in a temp dir.
 * @returns the index directory and the .npy it was built from.
 */
export function smallVectorIndex(): { dir: string; npy: string } {
  const root = tempDir();
  const npy = join(root, 'v.npy');
  const w = new NpyWriter(npy, 8);
  w.write(Float32Array.from({ length: 8 * 40 }, (_, i) => Math.sin(i * 1.7)));
  w.close();
  const dir = join(root, 'idx');
  const r = vecforge(['build', '--vectors', npy, '--out', dir, '--workers', '1', '--json']);
  if (r.status !== 0) throw new Error(`vecforge build --vectors failed: ${r.stderr}`);
  return { dir, npy };
}
