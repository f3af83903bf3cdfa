/**
 * `vecforge search`: one query text, a JSONL file of queries, or query
 * vectors from a .npy file. With --json, exactly one output line per query,
 * in input order: its hits, or an `error` for a query that could not be
 * answered (a malformed line included), so a reader can zip input and output.
 */
import { Engine, VecforgeError, kSearchModes, type Hit, type SearchMode } from '../index.js';
import { readLines } from '../io/lines.js';
import { readNpy } from '../io/npy.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { kExitOk, kExitPartial } from './exit-codes.js';
import { UsageError } from './usage-error.js';
import { engineCreateOptions } from './provider-flags.js';

/** What `search` needs. */
export interface SearchCommandOptions {
  readonly dir: string;
  readonly vectors?: string | undefined;
  /** --mode: hybrid, vector or lexical; undefined for the index's default. */
  readonly mode?: string | undefined;
  readonly config: ResolvedConfig;
}

/** Why a query has no answer. */
interface QueryError {
  readonly code: string;
  readonly message: string;
}

/** One query of the input: answerable, or already failed while read. */
interface QueryLine {
  /** What the output calls the query: its text, or the row number of a query vector. */
  readonly label: string | number;
  /** The `id` of the input line, when it has one. */
  readonly id?: string | number;
  /** The 1-based line of a --queries file. */
  readonly line?: number;
  readonly query?: string | Float32Array;
  readonly error?: QueryError;
}

/** Queries searched and printed at a time: the output starts early and memory stays bounded however long the file. */
const kQueryChunk = 4096;

/**
 * Reads a JSONL file of queries: `{"query": text}` or `{"text": text}`,
 * with an optional `id` (string or number), or a bare JSON string. Every
 * non-blank line is one query; a line that holds none becomes a failed
 * query in its place. Lines are bounded by `maxLineBytes`.
 * @param path - the file.
 * @param maxLineBytes - the longest line (job.maxRecordBytes).
 * @yields the queries in file order, kQueryChunk at a time.
 * @throws {VecforgeError} ERR_IO when the file cannot be read.
 */
async function* readQueries(path: string, maxLineBytes: number): AsyncGenerator<QueryLine[]> {
  let queries: QueryLine[] = [];
  try {
    for await (const l of readLines(path, { maxLineBytes })) {
      if (l.state === 'failed') queries.push({ label: '', line: l.line, error: { code: l.code, message: l.code === 'TOO_LARGE' ? `${l.reason} (--max-record-bytes)` : l.reason } });
      else if (l.text.trim() !== '') queries.push(parseQuery(l.text, l.line));
      if (queries.length >= kQueryChunk) {
        yield queries;
        queries = [];
      }
    }
  } catch (error) {
    throw new VecforgeError('ERR_IO', `cannot read queries ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  if (queries.length > 0) yield queries;
}

/** The rows of a query-vector file, kQueryChunk at a time (views, not copies). */
function* vectorQueries(data: Float32Array, rows: number, dims: number): Generator<QueryLine[]> {
  for (let at = 0; at < rows; at += kQueryChunk) {
    yield Array.from({ length: Math.min(kQueryChunk, rows - at) }, (_, j) => ({ label: at + j, query: data.subarray((at + j) * dims, (at + j + 1) * dims) }));
  }
}

function parseQuery(text: string, line: number): QueryLine {
  let row: unknown;
  try {
    row = JSON.parse(text);
  } catch {
    return { label: '', line, error: { code: 'MALFORMED_LINE', message: 'line is not valid JSON' } };
  }
  if (typeof row === 'string') return row.trim() === '' ? { label: row, line, error: { code: 'MISSING_QUERY', message: 'the query is empty' } } : { label: row, line, query: row };
  if (row === null || typeof row !== 'object' || Array.isArray(row)) return { label: '', line, error: { code: 'MALFORMED_LINE', message: 'line is not a JSON object or string' } };
  const r = row as Record<string, unknown>;
  const id = typeof r.id === 'string' || (typeof r.id === 'number' && Number.isFinite(r.id)) ? { id: r.id } : {};
  const q = r.query ?? r.text;
  if (typeof q !== 'string' || q.trim() === '') return { label: typeof q === 'string' ? q : '', line, ...id, error: { code: 'MISSING_QUERY', message: 'no "query" string' } };
  return { label: q, line, ...id, query: q };
}

function snippetOf(hit: Hit, chars: number): string {
  const s = hit.metadata?._snippet;
  if (typeof s !== 'string') return '';
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > chars ? `${flat.slice(0, chars - 3)}...` : flat;
}

function printResult(q: QueryLine, result: Hit[] | QueryError, json: boolean): void {
  const head = { ...(q.id !== undefined ? { id: q.id } : {}), ...(q.line !== undefined ? { line: q.line } : {}), query: q.label };
  if (!Array.isArray(result)) {
    process.stderr.write(`vecforge: query ${q.line !== undefined ? `on line ${q.line} ` : ''}${JSON.stringify(q.label)}: ${result.message}\n`);
    if (json) process.stdout.write(`${JSON.stringify({ ...head, error: result })}\n`);
    return;
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...head, ids: result.map((h) => h.id), scores: result.map((h) => Number(h.score.toFixed(6))) })}\n`);
    return;
  }
  process.stdout.write(`query ${q.id !== undefined ? `${JSON.stringify(q.id)} ` : ''}${JSON.stringify(q.label)}\n`);
  result.forEach((h, r) => {
    const ns = h.namespace !== 'default' ? `  [${h.namespace}]` : '';
    const snip = snippetOf(h, 80);
    process.stdout.write(`  ${String(r + 1).padStart(2)}  ${h.score.toFixed(4)}  ${h.id}${ns}${snip !== '' ? `  ${snip}` : ''}\n`);
  });
}

/**
 * Searches an index with one query text, a JSONL file of queries, or query
 * vectors from a .npy file; prints id, score and a snippet per hit, or with
 * --json one line per query (`{id?, line?, query, ids, scores}` or
 * `{id?, line?, query, error: {code, message}}`), in input order.
 * @param o - directory, vectors file and config.
 * @returns the exit code: 0, or 3 when some queries failed.
 * @throws {UsageError} unless exactly one of --query, --queries, --vectors is given.
 */
export async function runSearch(o: SearchCommandOptions): Promise<number> {
  const { search, output } = o.config;
  const given = [o.vectors, search.query, search.queries].filter((x) => x !== undefined).length;
  if (given !== 1) throw new UsageError('search needs exactly one of --query TEXT, --queries FILE.jsonl and --vectors FILE.npy');
  if (o.mode !== undefined && !(kSearchModes as readonly string[]).includes(o.mode)) throw new UsageError(`--mode must be one of ${kSearchModes.join(', ')}, got ${JSON.stringify(o.mode)}`);
  const mode = o.mode === undefined ? {} : { mode: o.mode as SearchMode };
  const engine = await Engine.create(engineCreateOptions(o.config));
  let failedCount = 0;
  try {
    const index = await engine.openIndex(o.dir);
    try {
      if (index.count === 0) throw new VecforgeError('ERR_INDEX', `${o.dir} holds no documents`);
      if ((o.mode === 'lexical' || o.mode === 'hybrid') && index.stats().lexical === null) {
        throw new UsageError(`--mode ${o.mode} needs a lexical index; ${o.dir} has none (built with --no-lexical, lexical: false, or from vectors): use --mode vector`);
      }
      const k = Math.min(search.k, index.count);
      const opts = { k, ...mode, ...(search.ef !== undefined ? { ef: Math.max(search.ef, k) } : {}), ...(search.namespace !== undefined ? { namespace: search.namespace } : {}) };
      let chunks: Iterable<QueryLine[]> | AsyncIterable<QueryLine[]>;
      if (o.vectors !== undefined) {
        const q = readNpy(o.vectors);
        if (q.dims !== index.dims) throw new VecforgeError('ERR_INVALID_INPUT', `${o.vectors} has ${q.dims} dims, the index has ${index.dims}`);
        chunks = vectorQueries(q.data, q.rows, q.dims);
      } else if (search.queries !== undefined) chunks = readQueries(search.queries, o.config.job.maxRecordBytes);
      else chunks = [[{ label: search.query ?? '', query: search.query ?? '' }]];
      for await (const queries of chunks) {
        const asked = queries.flatMap((q) => (q.query !== undefined ? [q.query] : []));
        // Settled: a query that cannot be answered gets its error in its place, the rest their hits.
        const answers: Array<Hit[] | QueryError> = (await index.searchBatchSettled(asked, opts)).map((a) => (a.state === 'ok' ? a.hits : { code: a.code, message: a.reason }));
        let next = 0;
        for (const q of queries) {
          const result = q.error ?? (answers[next++] as Hit[] | QueryError);
          if (!Array.isArray(result)) failedCount++;
          printResult(q, result, output.json);
        }
      }
    } finally {
      await index.close();
    }
  } finally {
    await engine.close();
  }
  return failedCount > 0 ? kExitPartial : kExitOk;
}
