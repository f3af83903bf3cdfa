/**
 * reindex suite: an end-to-end build of an index from real documents
 * (WordNet definitions, JSONL), with its items/s and the share of time
 * spent reading, embedding, inserting and writing (the job's own stage
 * timers); then reindexes of the same corpus with 1% of the documents
 * changed, against the full build, in the same run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, buildIndex, reindex, type JobSummary } from 'vecforge';
import { repoRoot } from '../paths.js';
import { prepareDefinitions } from '../data/definitions.js';
import { median } from '../measure.js';
import { speedRatio, type Report } from '../report/report.js';
import type { SuiteContext } from './suite.js';

/** Every this-many-th document is changed by a reindex: 1%. */
const kChangeEvery = 100;

/**
 * Writes revision `rev` of the corpus: every 100th document's text gets a
 * suffix naming the revision, so each revision changes the same 1% of the
 * documents to texts the embedding cache has never seen.
 * @param lines - the corpus lines.
 * @param rev - the revision number.
 * @param path - where to write it.
 */
function writeRevision(lines: readonly string[], rev: number, path: string): void {
  const out = lines.map((line, i) => {
    if (i % kChangeEvery !== 0) return line;
    const doc = JSON.parse(line) as { text: string };
    return JSON.stringify({ ...doc, text: `${doc.text}; revised in edition ${rev}` });
  });
  writeFileSync(path, `${out.join('\n')}\n`);
}

/**
 * Runs the reindex figures.
 * @param report - receives tables and figures.
 * @param ctx - suite context (quick mode, data dir).
 */
export async function runReindexSuite(report: Report, ctx: SuiteContext): Promise<void> {
  const count = ctx.quick ? 10_000 : 100_000;
  const corpus = await prepareDefinitions({ cacheDir: ctx.dataDir, count });
  const lines = readFileSync(corpus.path, 'utf8').split('\n').filter((l) => l !== '');
  const work = mkdtempSync(join(tmpdir(), 'vecforge-bench-reindex-'));
  const dataset = `${lines.length} WordNet definitions (Debian wordnet-base), JSONL`;
  const workers = Math.max(1, ctx.maxWorkers);
  const engine = await Engine.create({ workers, backend: 'wasm' });
  try {
    const dir = join(work, 'index');
    // Runs per figure, the same on every side of a ratio: full builds,
    // reindexes by the running engine (after one warm-up), reindexes by a
    // new engine; each figure is the median of its runs.
    const runs = ctx.quick ? 1 : 3;
    const revisions = runs + 1;
    const coldRuns = runs;
    const revisionPaths = Array.from({ length: revisions + 1 }, (_, r) => join(work, `rev${r}.jsonl`));
    for (const [r, p] of revisionPaths.entries()) writeRevision(lines, r, p);

    // Each full build starts from nothing: a fresh embedding cache, no
    // index; the engine is already running (its start is not timed, as for
    // the reindexes).
    const builds: JobSummary[] = [];
    for (let b = 0; b < runs; b++) {
      rmSync(dir, { recursive: true, force: true });
      rmSync(join(work, 'cache.lmdb'), { force: true });
      rmSync(join(work, 'cache.lmdb-lock'), { force: true });
      builds.push(await buildIndex({ source: revisionPaths[0] as string, out: dir, engine, embeddingCache: join(work, 'cache.lmdb') }));
    }
    const build = [...builds].sort((a, b) => a.seconds - b.seconds)[Math.floor(builds.length / 2)];
    if (build === undefined) throw new Error('the build did not run');

    // Each reindex moves the index to the next revision: 1% changed texts, embedded and upserted.
    const reindexes: JobSummary[] = [];
    let rev = 0;
    // One warm-up reindex, then `runs` measured ones.
    for (let i = 0; i < revisions; i++) {
      rev++;
      reindexes.push(await reindex({ source: revisionPaths[rev] as string, dir, engine, embeddingCache: join(work, 'cache.lmdb') }));
    }
    const measured = reindexes.slice(1);

    // The same reindex by an engine that did not publish the current
    // version: it verifies, loads and decodes the index from disk, as a new
    // process (the CLI) does. A fresh engine per run (its start is not
    // timed), each run moving the index to the next revision; the median run.
    const colds: JobSummary[] = [];
    for (let k = 0; k < coldRuns; k++) {
      const coldPath = join(work, `rev${revisions + 1 + k}.jsonl`);
      writeRevision(lines, revisions + 1 + k, coldPath);
      const coldEngine = await Engine.create({ workers, backend: 'wasm' });
      try {
        colds.push(await reindex({ source: coldPath, dir, engine: coldEngine, embeddingCache: join(work, 'cache.lmdb') }));
      } finally {
        await coldEngine.close();
      }
    }
    const cold = [...colds].sort((a, b) => a.seconds - b.seconds)[Math.floor(colds.length / 2)] as JobSummary;
    const conditions = { dataset, backend: 'wasm', workers, m: 16, efConstruction: 200, chunkSize: 4096 };
    const buildSeconds = build.seconds;
    const reindexSeconds = median(measured.map((r) => r.seconds));
    const medianOf = { iterations: runs, statistic: 'median', engine: 'running (its start not timed)' };
    const fBuild = report.figure({ suite: 'reindex', name: 'seconds: full build', value: buildSeconds, unit: 's', conditions: { ...conditions, ...medianOf, embeddingCache: 'empty' } });
    const fReindex = report.figure({ suite: 'reindex', name: 'seconds: reindex with 1% changed', value: reindexSeconds, unit: 's', conditions: { ...conditions, ...medianOf, changed: lines.length / kChangeEvery } });
    const ratio = speedRatio(fReindex, fBuild);
    report.figure({ suite: 'reindex', name: `ratio: reindex 1% changed / full build speed, medians of ${runs} run(s) each, engine running`, value: ratio, unit: '×', conditions: { ...conditions, ...medianOf } });
    const fCold = report.figure({ suite: 'reindex', name: 'seconds: reindex with 1% changed, index opened from disk', value: cold.seconds, unit: 's', conditions: { ...conditions, iterations: colds.length, statistic: 'median', changed: lines.length / kChangeEvery } });
    const coldRatio = speedRatio(fCold, fBuild);
    report.figure({ suite: 'reindex', name: `ratio: reindex 1% changed by a new engine, index opened from disk / full build speed, medians of ${runs} run(s) each`, value: coldRatio, unit: '×', conditions: { ...conditions, ...medianOf } });
    report.figure({ suite: 'reindex', name: 'items/s: full build', value: lines.length / buildSeconds, unit: 'items/s', conditions });

    const st = build.stages;
    const total = build.seconds * 1000;
    const share = (ms: number): number => (100 * ms) / total;
    const rows: Array<[string, number, number]> = [
      ['read (file, UTF-8, JSON, validation)', st.readMs, share(st.readMs)],
      ['embed (glove-100d on the pool)', st.embedMs, share(st.embedMs)],
      ['embedding cache (lmdb lookups and writes)', st.cacheMs, share(st.cacheMs)],
      ['insert (HNSW graph + doc store)', st.insertMs, share(st.insertMs)],
      ['write (checkpoints, final save, publish)', st.writeMs, share(st.writeMs)],
      ['other (opening, setup)', Math.max(0, total - st.readMs - st.embedMs - st.cacheMs - st.insertMs - st.writeMs), 0],
    ];
    const last = rows[rows.length - 1] as [string, number, number];
    last[2] = share(last[1]);
    for (const [name, , pct] of rows) report.figure({ suite: 'reindex', name: `share of full build time: ${name.split(' ')[0] ?? name}`, value: pct, unit: '%', conditions });
    report.table({
      suite: 'reindex',
      title: `full build of ${dataset}: ${Math.round(lines.length / buildSeconds)} items/s`,
      columns: ['stage', 'ms', '% of build'],
      rows,
      note: `The median of ${runs} build(s), each from an empty embedding cache and no index, through buildIndex with a running engine (${workers} workers, wasm), M=16, efConstruction=200, checkpoints every 50,000 records. Stages are timed by the job itself and never overlap.`,
    });
    // The command line, end to end: process start, engine start, build, exit.
    const cliDir = join(work, 'cli-index');
    const cliStarted = performance.now();
    let cliOut: string;
    try {
      cliOut = execFileSync(process.execPath, [join(repoRoot(), 'bin', 'vecforge.js'), 'build', '--input', revisionPaths[0] as string, '--out', cliDir, '--workers', String(workers), '--backend', 'wasm', '--no-embedding-cache', '--progress', 'off', '--json'], {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      });
    } catch (error) {
      // Exit 3: the build finished, and a few definitions have no word the model knows.
      const e = error as { status?: number; stdout?: string };
      if (e.status !== 3 || typeof e.stdout !== 'string') throw error;
      cliOut = e.stdout;
    }
    const cliSeconds = (performance.now() - cliStarted) / 1000;
    const cli = JSON.parse(cliOut) as { counts: { added: number } };
    rmSync(cliDir, { recursive: true, force: true });
    report.figure({ suite: 'reindex', name: 'items/s: vecforge build, whole process', value: lines.length / cliSeconds, unit: 'items/s', conditions: { ...conditions, iterations: 1 } });
    report.table({
      suite: 'reindex',
      title: `\`vecforge build\` end to end on ${lines.length} documents`,
      columns: ['run', 'seconds', 'items/s', 'indexed'],
      rows: [
        [`buildIndex, engine already running (empty embedding cache; median of ${runs})`, buildSeconds, lines.length / buildSeconds, build.counts.added],
        ['vecforge build: new process, engine start, no embedding cache', cliSeconds, lines.length / cliSeconds, cli.counts.added],
      ],
    });

    const r = measured[measured.length - 1] ?? reindexes[reindexes.length - 1];
    report.table({
      suite: 'reindex',
      title: `reindex with 1% of ${lines.length} documents changed vs the full build, same run`,
      columns: ['job', 'seconds', 'embedded', 'upserted', 'speed × full build'],
      rows: [
        [`full build (empty embedding cache), median of ${runs}`, buildSeconds, build.counts.embedded, build.counts.added, 1],
        [`reindex, 1% changed, median of ${measured.length}`, reindexSeconds, r?.counts.embedded ?? 0, r?.counts.updated ?? 0, ratio],
        ['reindex, 1% changed, by another engine (index opened from disk)', cold.seconds, cold.counts.embedded, cold.counts.updated, coldRatio],
      ],
      note: `Full build: the median of ${runs} build(s) (${builds.map((b) => b.seconds.toFixed(3)).join(', ')} s), each from an empty embedding cache and no index, by the running engine. Reindex: the median of ${measured.length} runs (${measured.map((m) => m.seconds.toFixed(3)).join(', ')} s) after a warm-up run, by the same running engine; each moves the index to a new revision in which the same 1% of texts changed again (never seen by the embedding cache), so every run diffs ${lines.length} documents by content hash, embeds and upserts ${lines.length / kChangeEvery}, and publishes a new version. Bar: ≥ 20×. These runs share the engine of the build, which keeps the index it last published open: a reindex starts from it instead of reopening the version it published (only while that is still the directory's current version, same checksums). The last row: the median of ${colds.length} more reindexes (${colds.map((c) => c.seconds.toFixed(3)).join(', ')} s), each by a new engine that verifies, loads and decodes the index from disk as a new process does.`,
    });
    if (r !== undefined) {
      stageTable(
        report,
        'where a 1% reindex spends its time',
        r,
        'other (fork; the index the engine published is taken over, its doc store checked, not reopened)',
        'The last reindex of the run, by its own stage timers. Changed records are embedded and upserted on the pool while the reading goes on; only the wait for them counts (as upsert).',
      );
    }
    stageTable(
      report,
      'where a 1% reindex from disk spends its time',
      cold,
      'other (fork; open: files checked, the graph read and loaded on a pool worker while the input is read; the doc store is decoded during the upsert)',
      'The median reindex by a new engine, by its own stage timers. The upsert after the reading waits for the inserts on the pool and, meanwhile, decodes the doc store.',
    );
    process.stdout.write(`\nreindex 1% / full build: ${ratio.toFixed(1)}× faster; index opened from disk: ${coldRatio.toFixed(1)}× (bar: 20×)\n`);
  } finally {
    await engine.close();
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The stage table of one reindex, by its own stage timers.
 * @param report - receives the table.
 * @param title - its title.
 * @param job - the reindex.
 * @param other - the label of the "other" row.
 * @param note - the note under it.
 */
function stageTable(report: Report, title: string, job: JobSummary, other: string, note: string): void {
  const st = job.stages;
  const total = job.seconds * 1000;
  const row = (label: string, ms: number): [string, number, number] => [label, ms, (100 * ms) / total];
  report.table({
    suite: 'reindex',
    title,
    columns: ['stage', 'ms', '% of reindex'],
    rows: [
      row('read + diff (the SHA-256 of each line compared with the lines of the last published version; lines not found there parsed, hashed, compared with the doc store)', st.readMs),
      row('embed', st.embedMs),
      row('embedding cache', st.cacheMs),
      row('upsert (fresh slots, old ones marked deleted; the wait for what did not overlap the reading)', st.insertMs),
      row('write (graph saved whole, doc store copied plus changes, checksums, publish)', st.writeMs),
      row(other, st.otherMs),
    ],
    note,
  });
}
