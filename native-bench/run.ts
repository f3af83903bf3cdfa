/**
 * `npm run native-bench [-- --quick] [--report DIR]`: builds the native
 * baselines (hnsw_bench from the hnswlib headers the engine uses; matmul,
 * blocked and on OpenBLAS where installed), runs the `index` and `pca`
 * bench suites, which run the engine and those baselines side by side on
 * the same data files (the GloVe fvecs prepared by `prepareGlove`; the
 * pca suite's seeded sample), and prints ratio tables engine / native for
 * build, search and matmul, computed from the paired figures of that one
 * run (report.json in the report directory; ratios.md beside it).
 *
 * Before anything runs it checks the toolchain and says what is missing:
 * g++ (or $CXX), make (for the engine's addon), hnswlib-node's headers, the
 * built vecforge_hnsw addon. Exit status: 0 done, 1 a tool is missing or a
 * step failed, 2 a bad command line.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runBench } from '../src/bench/main.js';
import { formatNumber, speedRatio } from '../src/bench/report.js';
import { parseReportDocument, type ReportDocument, type ReportFigure } from '../src/bench/schema.js';
import { nativeHnswAvailable } from '../src/index/hnsw/native-core.js';
import { buildHnswBench, buildMatmulBench, hnswlibIncludeDir, kDefaultHnswBenchBuildOptions, repoRoot } from './build.js';

/** One row of a ratio table. */
export interface RatioRow {
  /** What was compared. */
  readonly label: string;
  /** The engine's figure, in `unit`. */
  readonly engine: number | null;
  /** The native figure, in `unit`. */
  readonly native: number | null;
  /** The figures' unit. */
  readonly unit: string;
  /** Engine speed / native speed: above 1 the engine is faster. */
  readonly ratio: number;
}

/** A ratio table: one kind of work. */
export interface RatioTable {
  readonly title: string;
  readonly rows: readonly RatioRow[];
  /** How the ratios were formed. */
  readonly note: string;
}

/** One check of {@link checkToolchain}. */
export interface ToolCheck {
  readonly name: string;
  readonly ok: boolean;
  /** The version or path found, or what to do when missing. */
  readonly detail: string;
  /** Whether native-bench cannot run without it. */
  readonly required: boolean;
}

function versionOf(command: string): string | undefined {
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return undefined;
  return probe.stdout.split('\n')[0]?.trim() ?? command;
}

/**
 * Checks what native-bench needs.
 * @returns one entry per tool, required ones first.
 */
export function checkToolchain(): ToolCheck[] {
  const compiler = kDefaultHnswBenchBuildOptions.compiler;
  const cxx = versionOf(compiler);
  const make = versionOf('make');
  let headers: string;
  let headersOk = true;
  try {
    headers = hnswlibIncludeDir();
  } catch (error: unknown) {
    headersOk = false;
    headers = error instanceof Error ? error.message : String(error);
  }
  const addon = nativeHnswAvailable();
  return [
    { name: `C++ compiler (${compiler})`, ok: cxx !== undefined, detail: cxx ?? 'not found: apt-get install g++ (Debian/Ubuntu), xcode-select --install (macOS), or set CXX', required: true },
    { name: 'hnswlib headers (hnswlib-node)', ok: headersOk, detail: headers, required: true },
    { name: 'make', ok: make !== undefined, detail: make ?? 'not found: apt-get install make; node-gyp needs it to build the engine addon', required: false },
    {
      name: 'vecforge_hnsw addon',
      ok: addon,
      detail: addon ? 'built' : 'not built: run `node native/build.mjs` (needs make and g++); without it the engine falls back to hnswlib-node and the index ratios measure that',
      required: false,
    },
  ];
}

/** Finds a figure by exact name; undefined when the run did not produce it. */
function find(document: ReportDocument, name: string): ReportFigure | undefined {
  return document.figures.find((f) => f.name === name);
}

function row(label: string, engine: ReportFigure, native: ReportFigure, sameDataset = true): RatioRow {
  return { label, engine: engine.value, native: native.value, unit: engine.unit === native.unit ? engine.unit : `${engine.unit} vs ${native.unit}`, ratio: speedRatio(engine, native, { sameDataset }) };
}

/**
 * The engine / native ratio tables of a report, each ratio formed from two
 * figures of that one run by {@link speedRatio}:
 *   - build: `inserts/s: engine build` over `inserts/s: native build` when
 *     the index suite records them, else its own `ratio: engine build /
 *     native build` (formed in the suite from the same run);
 *   - search: per ef, `queries/s ef=N: engine single-query` over
 *     `queries/s ef=N: native single-thread`, with both recalls;
 *   - matmul: the pca suite's projection rows/s over each native matmul,
 *     and its fit time over the native covariance product.
 * @param document - a parsed report.json.
 * @returns the tables that have figures; an empty array when none do.
 */
export function ratioTables(document: ReportDocument): RatioTable[] {
  const tables: RatioTable[] = [];

  const buildRows: RatioRow[] = [];
  const engineBuild = find(document, 'inserts/s: engine build');
  const nativeBuild = find(document, 'inserts/s: native build');
  if (engineBuild !== undefined && nativeBuild !== undefined) buildRows.push(row('HNSW build, inserts/s', engineBuild, nativeBuild));
  else {
    const ratio = find(document, 'ratio: engine build / native build');
    if (ratio !== undefined) buildRows.push({ label: 'HNSW build, inserts/s (ratio formed by the index suite)', engine: null, native: null, unit: '×', ratio: ratio.value ?? Number.NaN });
  }
  if (buildRows.length > 0) {
    const params = (engineBuild ?? find(document, 'ratio: engine build / native build'))?.conditions;
    tables.push({
      title: 'build',
      rows: buildRows,
      note: `${params?.dataset ?? ''}; ${Object.entries(params?.parameters ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(', ')}. Engine: pool workers inserting into one shared graph; native: hnswlib, same threads.`,
    });
  }

  const searchRows: RatioRow[] = [];
  const efs = document.figures.flatMap((f) => /^queries\/s ef=(\d+): engine single-query$/.exec(f.name)?.[1] ?? []);
  for (const ef of efs) {
    const engine = find(document, `queries/s ef=${ef}: engine single-query`);
    const native = find(document, `queries/s ef=${ef}: native single-thread`);
    if (engine === undefined || native === undefined) continue;
    const recall = (impl: string): string => {
      const v = find(document, `recall@10 ef=${ef}: ${impl}`)?.value;
      return v === null || v === undefined ? 'n/a' : v.toFixed(3);
    };
    searchRows.push(row(`ef=${ef} (recall@10 engine ${recall('engine')}, native ${recall('native')})`, engine, native));
  }
  if (searchRows.length > 0) {
    tables.push({ title: 'search', rows: searchRows, note: 'Single-query throughput: the engine awaits one index.search at a time; native hnswlib runs a tight loop on one thread.' });
  }

  const matmulRows: RatioRow[] = [];
  const projection = document.figures.find((f) => f.suite === 'pca' && f.name.startsWith('rows/s: engine PcaProjector.project'));
  if (projection !== undefined) {
    for (const native of document.figures.filter((f) => f.suite === 'pca' && f.name.startsWith('rows/s: native matmul'))) {
      matmulRows.push(row(`PCA projection vs ${native.name.slice('rows/s: '.length)}`, projection, native));
    }
  }
  const fit = document.figures.find((f) => f.suite === 'pca' && /^fit seconds: engine fitPca \d+×/.test(f.name));
  if (fit !== undefined) {
    for (const native of document.figures.filter((f) => f.suite === 'pca' && f.name.startsWith('native covariance matmul seconds'))) {
      matmulRows.push(row(`${fit.name.slice('fit seconds: '.length)} vs ${native.name.replace(' seconds', '')} (a lower bound)`, fit, native, false));
    }
  }
  if (matmulRows.length > 0) {
    tables.push({
      title: 'matmul',
      rows: matmulRows,
      note: "The engine projects and fits on one thread (TF.js wasm); native rows name their threads. The native covariance product is only the fit's largest matmul, so its ratio is a floor for the engine, not a like-for-like race.",
    });
  }
  return tables;
}

/**
 * Renders ratio tables as Markdown.
 * @param tables - from {@link ratioTables}.
 * @returns Markdown text.
 */
export function renderRatioTables(tables: readonly RatioTable[]): string {
  return tables
    .map((t) => {
      const lines = [`## ${t.title}: engine / native`, '', '| work | engine | native | unit | engine / native speed |', '| --- | --- | --- | --- | --- |'];
      const fmt = (v: number | null): string => (v === null ? '' : formatNumber(v));
      for (const r of t.rows) lines.push(`| ${r.label} | ${fmt(r.engine)} | ${fmt(r.native)} | ${r.unit} | ${Number.isFinite(r.ratio) ? `${formatNumber(r.ratio)}×` : 'n/a'} |`);
      lines.push('', t.note);
      return `${lines.join('\n')}\n`;
    })
    .join('\n');
}

/**
 * Runs the command line.
 * @param argv - the arguments after the script name.
 * @returns the exit status.
 */
export async function main(argv: readonly string[]): Promise<number> {
  let values: { quick?: boolean; report?: string };
  try {
    ({ values } = parseArgs({ args: [...argv], options: { quick: { type: 'boolean', default: false }, report: { type: 'string' } }, strict: true }));
  } catch (error: unknown) {
    console.error(`native-bench: ${error instanceof Error ? error.message : String(error)}\nusage: npm run native-bench -- [--quick] [--report DIR]`);
    return 2;
  }
  const checks = checkToolchain();
  console.log('native-bench: toolchain');
  for (const c of checks) console.log(`  ${c.ok ? 'ok     ' : c.required ? 'MISSING' : 'missing'} ${c.name}: ${c.detail}`);
  const missing = checks.filter((c) => c.required && !c.ok);
  if (missing.length > 0) {
    console.error(`native-bench: cannot run without ${missing.map((c) => c.name).join(' and ')}`);
    return 1;
  }
  try {
    const hnsw = buildHnswBench();
    const matmul = buildMatmulBench();
    console.log(`native-bench: built ${[hnsw, matmul.blocked, matmul.openblas].flatMap((b) => (b === undefined ? [] : [path.basename(b.binary)])).join(', ')}`);
    if (matmul.openblasMissing !== undefined) console.log(`native-bench: ${matmul.openblasMissing.split(':')[0]}`);
    const reportDir = path.resolve(values.report ?? path.join(repoRoot(), 'reports', 'native-bench'));
    console.log('native-bench: running the index and pca suites (the first run also prepares the GloVe data: minutes)');
    const written = await runBench({ suites: ['index', 'pca'], quick: values.quick ?? false, reportDir });
    const document = parseReportDocument(JSON.parse(readFileSync(written.json, 'utf8')));
    const markdown = `# engine / native, measured side by side in one run\n\n${renderRatioTables(ratioTables(document))}`;
    const ratiosPath = path.join(reportDir, 'ratios.md');
    writeFileSync(ratiosPath, markdown);
    console.log(`\n${markdown}\nratios: ${ratiosPath}\nreport: ${written.md}`);
    return 0;
  } catch (error: unknown) {
    console.error(`native-bench: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
