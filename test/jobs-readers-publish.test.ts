/**
 * Readers during a reindex: another process opens and searches the index
 * directory in a loop while this one publishes version after version.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex, reindex } from '../src/index.js';
import { corpusRows, writeJsonl } from './jobs-helpers.js';
import { kRepoRoot, kTestCacheDir, tempDir } from './helpers.js';

const kDocs = 40;
const kEditions = 6;

/**
 * The reader: opens the index afresh, searches for every document, and
 * records the editions its hits carry, until told to stop (a line on
 * stdin); prints `edition N` the first time it sees N, then a JSON report.
 */
const kReader = `
import { Engine } from ${JSON.stringify(pathToFileURL(join(kRepoRoot, 'dist', 'src', 'index.js')).href)};
const [dir, cacheDir] = process.argv.slice(2);
let stop = false;
process.stdin.on('data', () => { stop = true; });
const engine = await Engine.create({ cacheDir, workers: 1, backend: 'wasm' });
const seen = new Set();
const report = { answers: 0, mixed: [], incomplete: [], errors: [] };
while (!stop) {
  try {
    const index = await engine.openIndex(dir);
    try {
      const hits = await index.search('a document', { k: ${kDocs}, ef: 200 });
      const editions = [...new Set(hits.map((h) => h.metadata?.edition))];
      report.answers++;
      if (editions.length !== 1) report.mixed.push(editions);
      // Complete: every document of the version is there. (The hit count is not the measure: on a graph
      // whose documents were all replaced five times, HNSW may leave a live node unreached now and then.)
      if (index.count !== ${kDocs} || index.ids().length !== ${kDocs} || hits.length < ${kDocs} - 2) report.incomplete.push([index.count, index.ids().length, hits.length]);
      for (const e of editions) if (!seen.has(e)) { seen.add(e); process.stdout.write('edition ' + e + '\\n'); }
    } finally {
      await index.close();
    }
  } catch (error) {
    report.errors.push(String(error?.code) + ': ' + String(error?.message));
  }
  // Let the stop line in between answers.
  await new Promise((r) => setImmediate(r));
}
await engine.close();
process.stdout.write(JSON.stringify(report) + '\\n');
`;

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

describe('readers during a reindex', () => {
  test(`a process searching in a loop while ${kEditions} versions are published sees only complete versions, and no errors`, async () => {
    const dir = tempDir();
    const rows = corpusRows().slice(0, kDocs);
    const edition = (n: number): string => writeJsonl(join(dir, `e${n}.jsonl`), rows.map((r) => ({ ...r, metadata: { ...r.metadata, edition: n } })));
    const out = join(dir, 'idx');
    await buildIndex({ source: edition(1), out, engine, embeddingCache: false });
    const script = join(dir, 'reader.mjs');
    writeFileSync(script, kReader);

    const child = spawn(process.execPath, [script, out, kTestCacheDir], { cwd: kRepoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
    let stdout = '';
    const waiters: Array<{ text: string; done: () => void }> = [];
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      for (const w of waiters.splice(0)) {
        if (stdout.includes(w.text)) w.done();
        else waiters.push(w);
      }
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    /** Resolves once the reader has printed `text`, or rejects if it exits first. */
    const printed = (text: string): Promise<void> =>
      Promise.race([
        new Promise<void>((done) => (stdout.includes(text) ? done() : waiters.push({ text, done }))),
        exited.then((code) => Promise.reject(new Error(`the reader exited (${code}) before printing ${text}: ${stdout}`))),
      ]);

    // The reader answers from the first version, then the versions are published one after another while it reads.
    await printed('edition 1\n');
    for (let n = 2; n <= kEditions; n++) {
      const s = await reindex({ source: edition(n), dir: out, engine, embeddingCache: false });
      expect(s).toMatchObject({ published: true, counts: { updated: kDocs } });
    }
    // It reads the last one too before it stops.
    await printed(`edition ${kEditions}\n`);
    child.stdin.end('stop\n');
    expect(await exited).toBe(0);
    const report = JSON.parse(stdout.trim().split('\n').pop() ?? '') as { answers: number; mixed: unknown[]; incomplete: unknown[]; errors: string[] };
    expect(report.errors).toEqual([]);
    expect(report.mixed).toEqual([]);
    expect(report.incomplete).toEqual([]);
    expect(report.answers).toBeGreaterThanOrEqual(2);
  });
});
