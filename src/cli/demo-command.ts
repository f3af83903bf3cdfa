/**
 * `vecforge demo`: builds an HNSW index from the bundled sample corpus
 * (3,854 WordNet definitions) with the built-in model, answers the bundled
 * queries through the index, and says how many found their expected
 * definition in the top 10.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, buildIndex, inspectIndex, reindex } from '../index.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { kExitFatal, kExitOk } from './exit-codes.js';
import { dataFile } from './paths.js';
import { engineCreateOptions } from './provider-flags.js';

interface Query {
  readonly query: string;
  readonly expected: readonly string[];
}

function readQueries(path: string): Query[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Query);
}

function holdsIndex(dir: string): boolean {
  try {
    inspectIndex(dir);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs the demo.
 * @param options - the resolved config; `out` keeps the index there instead of a temporary directory.
 * @returns 0 when queries found their expected documents, 1 when none did.
 */
export async function runDemo(options: { config: ResolvedConfig; out?: string | undefined }): Promise<number> {
  const { config } = options;
  const json = config.output.json;
  const corpus = dataFile('sample-corpus.jsonl');
  const queries = readQueries(dataFile('sample-queries.jsonl'));
  const keep = options.out !== undefined;
  const dir = options.out ?? mkdtempSync(join(tmpdir(), 'vecforge-demo-'));
  const engine = await Engine.create(engineCreateOptions(config));
  try {
    const common = { source: corpus, engine, embeddingCache: config.job.embeddingCache, snippetChars: config.job.snippetChars, command: 'vecforge demo' };
    const summary = keep && holdsIndex(dir) ? await reindex({ ...common, dir }) : await buildIndex({ ...common, out: dir, index: { space: config.index.space, m: config.index.m, efConstruction: config.index.efConstruction, efSearch: config.index.efSearch } });
    const index = await engine.openIndex(dir);
    const documents = index.count;
    let found = 0;
    let results: Array<{ query: Query; rank: number | null; top: Array<{ id: string; score: number; snippet: string }> }>;
    try {
      const k = Math.min(10, index.count);
      const hits = await index.searchBatch(
        queries.map((q) => q.query),
        { k, ef: Math.max(128, k) },
      );
      results = queries.map((query, i) => {
        const top = (hits[i] ?? []).map((h) => ({ id: h.id, score: h.score, snippet: typeof h.metadata?._snippet === 'string' ? h.metadata._snippet : '' }));
        const rank = top.findIndex((h) => query.expected.includes(h.id));
        if (rank >= 0) found++;
        return { query, rank: rank >= 0 ? rank + 1 : null, top };
      });
    } finally {
      await index.close();
    }
    const info = engine.info();
    if (json) {
      process.stdout.write(
        `${JSON.stringify({
          documents,
          queries: queries.length,
          foundInTop10: found,
          buildSeconds: Number(summary.seconds.toFixed(3)),
          backend: info.backend,
          workers: info.workers,
          index: keep ? dir : null,
        })}\n`,
      );
    } else {
      const c = summary.counts;
      process.stdout.write(
        `vecforge demo: indexed ${documents} WordNet definitions with ${info.model} on ${info.backend} (${info.workers} workers) in ${summary.seconds.toFixed(2)}s` +
          ` (${c.embedded} embedded, ${c.cacheHits} from the embedding cache)\n\n`,
      );
      for (const r of results.slice(0, 5)) {
        process.stdout.write(`query: ${r.query.query}\n`);
        for (const h of r.top.slice(0, 3)) {
          const mark = r.query.expected.includes(h.id) ? '*' : ' ';
          process.stdout.write(`  ${mark} ${h.score.toFixed(3)}  ${h.id.padEnd(22)} ${h.snippet.length > 70 ? `${h.snippet.slice(0, 67)}...` : h.snippet}\n`);
        }
        process.stdout.write('\n');
      }
      process.stdout.write(`${found} of ${queries.length} queries found their expected definition (*) in the top 10 (HNSW search).\n`);
      process.stdout.write(keep ? `The index is in ${dir}: try \`vecforge search ${dir} --query "..."\`.\n` : 'Keep the index with `vecforge demo --out DIR`, then `vecforge search DIR --query "..."`.\n');
    }
    return found > 0 ? kExitOk : kExitFatal;
  } finally {
    await engine.close();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}
