/**
 * `vecforge demo`: embeds the bundled sample corpus with the built-in model
 * and answers the bundled queries by exact (brute-force) search.
 */
import { readFileSync } from 'node:fs';
import { Engine, type EngineOptions } from '../index.js';
import { kExitFatal, kExitOk } from './exit-codes.js';
import { dataFile } from './paths.js';

interface Doc {
  readonly id: string;
  readonly text: string;
}

interface Query {
  readonly query: string;
  readonly expected: readonly string[];
}

function readJsonl<T>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/**
 * Runs the demo.
 * @param options - engine options and output mode.
 * @returns the exit code: 0 when every query finds its expected document in the top 10.
 */
export async function runDemo(options: { engine: EngineOptions; json: boolean; configFile?: string | undefined }): Promise<number> {
  const docs = readJsonl<Doc>(dataFile('sample-corpus.jsonl'));
  const queries = readJsonl<Query>(dataFile('sample-queries.jsonl'));
  const engine = await Engine.create(options.engine, options.configFile !== undefined ? { configFile: options.configFile } : {});
  try {
    const started = performance.now();
    const corpus = await engine.embed(docs.map((d) => d.text));
    const embedSeconds = (performance.now() - started) / 1000;
    const q = await engine.embed(queries.map((x) => x.query));
    const { dims } = corpus;
    let found = 0;
    const results = queries.map((query, qi) => {
      const scores: Array<[number, number]> = [];
      for (let di = 0; di < docs.length; di++) {
        if (corpus.items[di]?.state !== 'ok') continue;
        let s = 0;
        for (let d = 0; d < dims; d++) s += (q.vectors[qi * dims + d] ?? 0) * (corpus.vectors[di * dims + d] ?? 0);
        scores.push([s, di]);
      }
      scores.sort((a, b) => b[0] - a[0]);
      const top = scores.slice(0, 10).map(([score, di]) => ({ id: docs[di]?.id ?? '', score, text: docs[di]?.text ?? '' }));
      const rank = top.findIndex((h) => query.expected.includes(h.id));
      if (rank >= 0) found++;
      return { query: query.query, expected: query.expected, rank: rank >= 0 ? rank + 1 : null, top };
    });
    const info = engine.info();
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ documents: docs.length, queries: queries.length, foundInTop10: found, embedSeconds, backend: info.backend, workers: info.workers })}\n`);
    } else {
      process.stdout.write(`vecforge demo: ${docs.length} WordNet definitions embedded with ${info.model} on ${info.backend} (${info.workers} workers) in ${embedSeconds.toFixed(2)}s\n\n`);
      for (const r of results.slice(0, 5)) {
        process.stdout.write(`query: ${r.query}\n`);
        for (const h of r.top.slice(0, 3)) process.stdout.write(`  ${h.score.toFixed(3)}  ${h.id.padEnd(22)} ${h.text.length > 70 ? `${h.text.slice(0, 67)}...` : h.text}\n`);
        process.stdout.write('\n');
      }
      process.stdout.write(`${found} of ${queries.length} queries found their expected definition in the top 10 (exact search).\n`);
    }
    return found > 0 ? kExitOk : kExitFatal;
  } finally {
    await engine.close();
  }
}
