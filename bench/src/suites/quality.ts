/**
 * quality suite (on demand: `npm run bench -- quality`): search quality of
 * the vector, lexical (BM25) and hybrid (convex fusion; RRF beside it) modes on real dictionary text
 * (GCIDE and FOLDOC from Debian's dictd packages; queries in
 * data/quality-set.ts), each next to exact search, with the share of
 * documents and queries each mode can answer, search q/s of each mode, what
 * GloVe's suffix folding changes, the lexical bytes a 1% update writes, and
 * the modes' q/s again with a neural vector side (quality-neural.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Engine, type VectorIndex } from 'vecforge';
import { kDictionaries, prepareDictionary, type DictionaryName } from '../data/dictd.js';
import { qualitySet, type QualityQuery } from '../data/quality-set.js';
import { currentVersion, defaultCacheDir, ensureGloveCache, fuse, gloveViews, lexicalTerms, resolveFusionOptions, shardLexicalHandle, tokenizeToRows } from '../internals.js';
import { median } from '../measure.js';
import type { Report } from '../report/report.js';
import { measureNeuralQps } from './quality-neural.js';
import type { SuiteContext } from './suite.js';

const kK = 10;
/** Candidates each side gives the fusion: the index's default, max(k, 50). */
const kCandidates = 50;
const kAddChunk = 5000;
const kModes = ['vector', 'lexical', 'hybrid'] as const;
type Mode = (typeof kModes)[number];
/** Reciprocal-rank fusion (k 60, equal weights), the default before the convex fusion, reported beside it. */
const kRrf = Object.freeze({ method: 'rrf' as const, k: 60 });

/** Recall@10 and MRR@10 of ranked doc numbers against each query's relevant set; unanswered queries count 0. */
function scoreRuns(queries: readonly QualityQuery[], ranked: ReadonlyArray<readonly number[] | undefined>, only?: QualityQuery['kind']): { recall: number; mrr: number; n: number } {
  let hit = 0;
  let rr = 0;
  let n = 0;
  queries.forEach((q, i) => {
    if (only !== undefined && q.kind !== only) return;
    n++;
    const list = ranked[i] ?? [];
    const rank = list.slice(0, kK).findIndex((d) => q.relevant.includes(d));
    if (rank >= 0) {
      hit++;
      rr += 1 / (rank + 1);
    }
  });
  return { recall: hit / Math.max(1, n), mrr: rr / Math.max(1, n), n };
}

/** Exact cosine top-c of unit query rows against unit document rows (documents without a vector skipped). */
function exactTop(docs: ReadonlyArray<Float32Array | undefined>, q: Float32Array, c: number): Array<{ key: number; score: number }> {
  const top: Array<{ key: number; score: number }> = [];
  let floor = Number.NEGATIVE_INFINITY;
  for (let d = 0; d < docs.length; d++) {
    const v = docs[d];
    if (v === undefined) continue;
    let s = 0;
    for (let j = 0; j < v.length; j++) s += (v[j] as number) * (q[j] as number);
    if (top.length === c && s <= floor) continue;
    let at = top.length;
    while (at > 0 && (top[at - 1]?.score ?? 0) < s) at--;
    top.splice(at, 0, { key: d, score: s });
    if (top.length > c) top.pop();
    floor = top[top.length - 1]?.score ?? Number.NEGATIVE_INFINITY;
  }
  return top;
}

function lexicalFileBytes(dir: string): Map<string, number> {
  const v = currentVersion(dir);
  const out = new Map<string, number>();
  if (v === undefined) return out;
  const m = JSON.parse(readFileSync(join(v.path, 'manifest.json'), 'utf8')) as { files: Record<string, { bytes: number; sha256: string }> };
  for (const [f, e] of Object.entries(m.files)) if (f.startsWith('lexical-')) out.set(`${f}:${e.sha256}`, e.bytes);
  return out;
}

async function measureDictionary(name: DictionaryName, engine: Engine, report: Report, ctx: SuiteContext): Promise<void> {
  const entries = await prepareDictionary(name, ctx.dataDir);
  const set = qualitySet(entries, { maxDocs: ctx.quick ? 20_000 : 200_000, perKind: ctx.quick ? 200 : 1000, seed: 20_261_203 });
  const { docs, queries } = set;
  const dataset = `${name.toUpperCase()} (Debian ${kDictionaries[name].pkg}): ${docs.length} entries, ${queries.length} queries`;
  const sideNote = ctx.qualityModel !== undefined ? ` (vector side: ${basename(ctx.qualityModel)})` : '';
  const conditions = { dataset, model: ctx.qualityModel ?? 'glove-100d', k: kK, candidates: kCandidates, fusion: 'convex (TM2C2), equal weights', workers: Math.max(1, ctx.maxWorkers), m: 16, efConstruction: 200, efSearch: 64 };
  const fig = (n: string, value: number, unit: string, extra: Record<string, string | number> = {}): void => {
    report.figure({ suite: 'quality', name: `${name}: ${n}`, value, unit, conditions: { ...conditions, ...extra } });
  };
  const work = mkdtempSync(join(tmpdir(), `vecforge-bench-quality-${name}-`));
  let index: VectorIndex | undefined;
  try {
    const dir = join(work, 'idx');
    index = await engine.createIndex({ dir, capacity: docs.length + 16 });
    let noVector = 0;
    let failed = 0;
    for (let at = 0; at < docs.length; at += kAddChunk) {
      const outs = await index.addBatch(docs.slice(at, at + kAddChunk).map((text, j) => ({ id: String(at + j), text })));
      for (const o of outs) {
        if (o.state !== 'ok') failed++;
        else if (o.vector === false) noVector++;
      }
    }
    process.stdout.write(`quality ${name}: ${docs.length} documents indexed (${noVector} without a vector, ${failed} failed)\n`);
    const texts = queries.map((q) => q.text);
    const embedded = await engine.embed(texts);
    const dims = embedded.dims;
    const canEmbed = embedded.items.map((o) => o.state === 'ok');
    const hasTerms = texts.map((t) => lexicalTerms(t).length > 0);
    const answerable: Record<Mode, boolean[]> = { vector: canEmbed, lexical: hasTerms, hybrid: canEmbed.map((e, i) => e || (hasTerms[i] ?? false)) };
    const ranked: Record<string, Array<number[] | undefined>> = {};
    for (const mode of kModes) {
      const subset = queries.flatMap((_, i) => (answerable[mode][i] === true ? [i] : []));
      const hits = await index.searchBatch(subset.map((i) => texts[i] as string), { k: kK, mode });
      const out: Array<number[] | undefined> = new Array(queries.length);
      subset.forEach((qi, j) => {
        out[qi] = (hits[j] ?? []).map((h) => Number(h.id));
      });
      ranked[mode] = out;
    }
    {
      const subset = queries.flatMap((_, i) => (answerable.hybrid[i] === true ? [i] : []));
      const hits = await index.searchBatch(subset.map((i) => texts[i] as string), { k: kK, mode: 'hybrid', fusion: kRrf });
      const out: Array<number[] | undefined> = new Array(queries.length);
      subset.forEach((qi, j) => {
        out[qi] = (hits[j] ?? []).map((h) => Number(h.id));
      });
      ranked.rrf = out;
    }
    // Exact search: brute-force cosine over the stored vectors; BM25 is exhaustive already.
    const docVectors = docs.map((_, d) => index?.getVector(String(d)));
    const lexSubset = queries.flatMap((_, i) => (hasTerms[i] === true ? [i] : []));
    const lexHits = await index.searchBatch(lexSubset.map((i) => texts[i] as string), { k: kCandidates, mode: 'lexical' });
    const lexCandidates: Array<Array<{ key: number; score: number }>> = queries.map(() => []);
    lexSubset.forEach((qi, j) => {
      lexCandidates[qi] = (lexHits[j] ?? []).map((h) => ({ key: Number(h.id), score: h.score }));
    });
    // The default fusion over exact candidates, each scored on both sides as the index does:
    // BM25 of the vector candidates (the index's own scoring), the exact cosine of the lexical ones.
    const fusion = resolveFusionOptions(undefined, kK);
    const side = shardLexicalHandle(index);
    const exactVector: Array<number[] | undefined> = [];
    const exactHybrid: Array<number[] | undefined> = [];
    queries.forEach((_, i) => {
      const q = canEmbed[i] === true ? embedded.vectors.subarray(i * dims, (i + 1) * dims) : null;
      const vec = q !== null ? exactTop(docVectors, q, kCandidates) : [];
      exactVector[i] = vec.slice(0, kK).map((c) => c.key);
      const lex = lexCandidates[i] ?? [];
      const terms = lexicalTerms(texts[i] as string);
      const bm25 = side !== null && terms.length > 0 ? side.scoreIds(terms, vec.map((c) => String(c.key)), side.corpus(terms)) : new Float64Array(vec.length);
      const cosine = lex.map((c) => {
        const v = docVectors[c.key];
        return q === null || v === undefined ? Number.NaN : v.reduce((a, x, j) => a + x * (q[j] as number), 0);
      });
      exactHybrid[i] = fuse(
        { keys: vec.map((c) => c.key), scores: vec.map((c) => c.score), length: vec.length, cross: bm25, floor: -1 },
        { keys: lex.map((c) => c.key), scores: lex.map((c) => c.score), length: lex.length, cross: cosine },
        fusion,
        kK,
      ).map((c) => c.key);
    });
    const rows: Array<Array<string | number>> = [];
    const results: Record<string, { recall: number; mrr: number }> = {};
    for (const mode of kModes) {
      const idx = scoreRuns(queries, ranked[mode] ?? []);
      const exact = mode === 'lexical' ? idx : scoreRuns(queries, mode === 'vector' ? exactVector : exactHybrid);
      results[mode] = idx;
      results[`${mode} exact`] = exact;
      const share = answerable[mode].filter(Boolean).length / queries.length;
      const docShare = mode === 'vector' ? (docs.length - noVector - failed) / docs.length : (docs.length - failed) / docs.length;
      const byKind = (['headword', 'held-out sense'] as const).map((kind) => scoreRuns(queries, ranked[mode] ?? [], kind).recall);
      rows.push([mode, idx.recall, idx.mrr, exact.recall, exact.mrr, byKind[0] ?? 0, byKind[1] ?? 0, share, docShare]);
      fig(`recall@10 ${mode}`, idx.recall, 'ratio');
      fig(`MRR@10 ${mode}`, idx.mrr, 'ratio');
      fig(`recall@10 ${mode}, exact search`, exact.recall, 'ratio');
      fig(`share of queries answerable: ${mode}`, share, 'ratio');
      fig(`share of documents searchable: ${mode}`, docShare, 'ratio');
    }
    {
      const r = scoreRuns(queries, ranked.rrf ?? []);
      const byKind = (['headword', 'held-out sense'] as const).map((kind) => scoreRuns(queries, ranked.rrf ?? [], kind).recall);
      rows.push(['hybrid, RRF k 60', r.recall, r.mrr, '', '', byKind[0] ?? 0, byKind[1] ?? 0, answerable.hybrid.filter(Boolean).length / queries.length, (docs.length - failed) / docs.length]);
      fig('recall@10 hybrid, RRF k 60', r.recall, 'ratio');
      fig('MRR@10 hybrid, RRF k 60', r.mrr, 'ratio');
      results.rrf = r;
    }
    const best = Math.max(results.vector?.recall ?? 0, results.lexical?.recall ?? 0);
    fig('recall@10 gain: hybrid (RRF k 60) − better single mode', (results.rrf?.recall ?? 0) - best, 'ratio');
    fig('recall@10 gain: hybrid − better single mode', (results.hybrid?.recall ?? 0) - best, 'ratio');
    fig('recall@10: hybrid index − hybrid exact', (results.hybrid?.recall ?? 0) - (results['hybrid exact']?.recall ?? 0), 'ratio');
    report.table({
      suite: 'quality',
      title: `${dataset}: search quality by mode, index and exact${sideNote}`,
      columns: ['mode', 'recall@10', 'MRR@10', 'recall@10 exact', 'MRR@10 exact', 'recall@10 headword', 'recall@10 held-out sense', 'queries answerable', 'documents searchable'],
      rows,
      note: 'One relevant set per query (headword: the entries with that headword; held-out sense: its entry); unanswerable queries count as misses. hybrid: the default convex fusion (every candidate scored on both sides, TM2C2, equal weights). Exact: brute-force cosine over the stored vectors (vector), the same fusion over exact vector candidates and BM25 (hybrid); BM25 is exhaustive, so lexical is exact.',
    });
    // Throughput: the queries every mode can answer, searchBatch, modes alternated, median of 3;
    // all of them, then each kind alone (headwords are 1–2 words, held-out senses definition-length).
    const kinds = [['all', undefined], ['headword', 'headword'], ['held-out sense', 'held-out sense']] as const;
    const qpsRows: Array<Array<string | number>> = [];
    for (const [label, kind] of kinds) {
      const common = queries.flatMap((q, i) => (canEmbed[i] === true && hasTerms[i] === true && (kind === undefined || q.kind === kind) ? [texts[i] as string] : []));
      if (common.length === 0) continue;
      // The modes, and hybrid with RRF (no cross scoring) beside the default fusion.
      const runs = [...kModes, 'hybrid rrf'] as const;
      const qps: Record<(typeof runs)[number], number[]> = { vector: [], lexical: [], hybrid: [], 'hybrid rrf': [] };
      for (let rep = 0; rep < 3; rep++) {
        for (const run of rep % 2 === 0 ? runs : [...runs].reverse()) {
          const t0 = performance.now();
          await index.searchBatch(common, run === 'hybrid rrf' ? { k: kK, mode: 'hybrid', fusion: kRrf } : { k: kK, mode: run });
          qps[run].push((common.length * 1000) / (performance.now() - t0));
        }
      }
      const suffix = kind === undefined ? '' : `, ${label} queries`;
      for (const run of runs) fig(`q/s ${run} (searchBatch)${suffix}`, median(qps[run]), 'q/s', { queries: common.length, iterations: 3, statistic: 'median' });
      fig(`ratio: hybrid / vector q/s${suffix}`, median(qps.hybrid) / median(qps.vector), '×', { queries: common.length });
      const meanTerms = common.reduce((a, t) => a + lexicalTerms(t).length, 0) / common.length;
      qpsRows.push([label, common.length, meanTerms, median(qps.vector), median(qps.lexical), median(qps.hybrid), median(qps['hybrid rrf']), median(qps.hybrid) / median(qps.vector)]);
    }
    report.table({
      suite: 'quality',
      title: `${dataset}: search q/s by mode and query kind${sideNote}`,
      columns: ['queries', 'count', 'mean terms', 'vector q/s', 'lexical q/s', 'hybrid q/s', 'hybrid RRF q/s', 'hybrid / vector'],
      rows: qpsRows,
      note: `searchBatch of the queries every mode can answer, k ${kK}, modes alternated, median of 3. Terms: BM25 terms after stop words (a repeated term counts each time). The vector side runs on the pool; BM25 for the batch on native threads (as many as pool workers; the calling thread waits), exact over every posting of the query's terms; hybrid (convex) then scores each side's candidates on the other side; hybrid RRF fuses ranks only.`,
    });
    // What GloVe's suffix folding changes: texts with no known word, and words not found.
    const { buffer, header } = ensureGloveCache(defaultCacheDir());
    const table = gloveViews(buffer, header);
    const oov = (list: readonly string[], fold: boolean): { empty: number; missing: number; words: number } => {
      let empty = 0;
      let missing = 0;
      let words = 0;
      const rowsOut: number[] = [];
      for (const t of list) {
        rowsOut.length = 0;
        const w = tokenizeToRows(table, t, rowsOut, fold);
        words += w;
        missing += w - rowsOut.length;
        if (rowsOut.length === 0) empty++;
      }
      return { empty, missing, words };
    };
    const foldRows: Array<Array<string | number>> = [];
    for (const [what, list] of [['documents', docs], ['queries', texts]] as const) {
      const off = oov(list, false);
      const on = oov(list, true);
      foldRows.push([what, off.empty / list.length, on.empty / list.length, off.missing / Math.max(1, off.words), on.missing / Math.max(1, on.words)]);
      fig(`${what} with no known word, without suffix folding`, off.empty / list.length, 'ratio');
      fig(`${what} with no known word, with suffix folding`, on.empty / list.length, 'ratio');
      fig(`${what}: words not in the vocabulary, without → with folding`, (off.missing - on.missing) / Math.max(1, off.missing), 'ratio');
    }
    report.table({ suite: 'quality', title: `${dataset}: GloVe vocabulary coverage without and with suffix folding`, columns: ['texts', 'no known word (no folding)', 'no known word (folding)', 'words missing (no folding)', 'words missing (folding)'], rows: foldRows });
    // The lexical index's incremental save: bytes a 1% update writes against the full first save.
    const t0 = performance.now();
    await index.save();
    const fullMs = performance.now() - t0;
    const before = lexicalFileBytes(dir);
    const changed = docs.flatMap((text, d) => (d % 100 === 0 ? [{ id: String(d), text: `${text} (revised edition)` }] : []));
    await index.upsert(changed);
    const t1 = performance.now();
    await index.save();
    const incMs = performance.now() - t1;
    const after = lexicalFileBytes(dir);
    const fullBytes = [...before.values()].reduce((a, b) => a + b, 0);
    const written = [...after].filter(([k]) => !before.has(k)).reduce((a, [, b]) => a + b, 0);
    fig('lexical bytes written by a 1% update / by the full save', written / Math.max(1, fullBytes), 'ratio', { changed: changed.length });
    fig('save time: 1% update / full first save (graph, doc store and lexical)', incMs / fullMs, '×', { changed: changed.length });
  } finally {
    await index?.close();
    rmSync(work, { recursive: true, force: true });
  }
  // With a model of the user's own (--quality-model), the tables above are that model's already.
  if (ctx.qualityModel === undefined) await measureNeuralQps(name, dataset, docs, queries.flatMap((q) => (lexicalTerms(q.text).length > 0 ? [q.text] : [])), report, ctx);
}

/**
 * Runs the quality figures on GCIDE and FOLDOC.
 * @param report - receives tables and figures.
 * @param ctx - suite context (quick mode: 20,000 entries and 400 queries per dictionary; `qualityModel`: the vector side's model instead of glove-100d).
 */
export async function runQualitySuite(report: Report, ctx: SuiteContext): Promise<void> {
  // The vector side: glove-100d, or the model directory given with --quality-model.
  const engine = await Engine.create({ workers: Math.max(1, ctx.maxWorkers), backend: 'wasm', ...(ctx.qualityModel !== undefined ? { model: ctx.qualityModel } : {}) });
  try {
    for (const name of Object.keys(kDictionaries) as DictionaryName[]) await measureDictionary(name, engine, report, ctx);
  } finally {
    await engine.close();
  }
}
