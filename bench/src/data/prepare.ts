/**
 * `npm run bench:data`: prepares the benchmark data sets into
 * `$VECFORGE_BENCH_DATA`, or `<repo>/.cache/bench-data` by default:
 *
 * - `wordnet/wordnet-definitions-v1-<count>.jsonl`, the definitions corpus;
 * - `glove-100d/`, the GloVe vectors with queries and ground truth.
 *
 * Flags: `--only definitions|glove`, `--count N` (definitions, default
 * 100000), `--queries N` and `--k N` (GloVe, defaults 1000 and 100), and
 * `--sample-corpus DIR`, which instead rewrites the sample corpus committed
 * in `data/`.
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { errorMessage } from '../internals.js';
import { repoRoot } from '../paths.js';
import { prepareDefinitions } from './definitions.js';
import { prepareGlove } from './glove.js';
import { writeSampleCorpus } from './sample-corpus.js';

/** The environment variable naming the benchmark data directory. */
export const kBenchDataEnv = 'VECFORGE_BENCH_DATA';

/** The data sets `--only` accepts. */
export const kBenchDataSets = Object.freeze(['definitions', 'glove'] as const);

/**
 * The benchmark data directory: `$VECFORGE_BENCH_DATA` when set, else
 * `.cache/bench-data` under the repository root (the nearest directory
 * above this file whose package.json is named `vecforge`).
 * @param env - the environment to read.
 * @returns an absolute path.
 */
export function benchDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[kBenchDataEnv];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(fromEnv);
  return join(repoRoot(), '.cache', 'bench-data');
}

function positiveInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new RangeError(`--${name} must be an integer ≥ 1, got ${value}`);
  return number;
}

/**
 * Runs the command line.
 * @param argv - the arguments after the script name.
 * @returns the process exit code.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const kOptions = {
    only: { type: 'string' },
    count: { type: 'string' },
    queries: { type: 'string' },
    k: { type: 'string' },
    'sample-corpus': { type: 'string' },
  } as const;
  let values: ReturnType<typeof parseArgs<{ args: string[]; options: typeof kOptions; strict: true }>>['values'];
  try {
    ({ values } = parseArgs({ args: [...argv], options: kOptions, strict: true }));
  } catch (error) {
    console.error(`bench:data: ${errorMessage(error)}`);
    return 2;
  }
  try {
    if (values['sample-corpus'] !== undefined) {
      const started = performance.now();
      const sample = await writeSampleCorpus(resolve(values['sample-corpus']));
      console.log(`sample corpus: ${sample.count} documents in ${sample.corpus}, CSV in ${sample.csv} (${seconds(started)})`);
      if (sample.unknownQueryIds.length > 0) {
        console.error(`sample queries name unknown ids: ${sample.unknownQueryIds.join(', ')}`);
        return 1;
      }
      return 0;
    }
    const only = values.only;
    if (only !== undefined && !(kBenchDataSets as readonly string[]).includes(only)) {
      throw new RangeError(`--only must be one of ${kBenchDataSets.join(', ')}, got ${only}`);
    }
    const count = positiveInteger('count', values.count);
    const queries = positiveInteger('queries', values.queries);
    const k = positiveInteger('k', values.k);
    const root = benchDataDir();
    console.log(`bench data directory: ${root}`);
    if (only === undefined || only === 'definitions') {
      const started = performance.now();
      const corpus = await prepareDefinitions({ cacheDir: join(root, 'wordnet'), count });
      console.log(`definitions: ${corpus.count} texts in ${corpus.path} (${corpus.reused ? 'reused' : 'written'}, ${seconds(started)})`);
    }
    if (only === undefined || only === 'glove') {
      const started = performance.now();
      const glove = await prepareGlove({ cacheDir: join(root, 'glove-100d'), queries, k });
      console.log(
        `glove: ${glove.rows} base × ${glove.dims} dims in ${glove.base}, ${glove.queryCount} queries in ${glove.queries}, ` +
          `top-${glove.k} ground truth in ${glove.groundTruth}, words in ${glove.baseWords} ` +
          `(${glove.reused ? 'reused' : 'written'}, ${seconds(started)})`,
      );
    }
    return 0;
  } catch (error) {
    console.error(`bench:data: ${errorMessage(error)}`);
    return 1;
  }
}

function seconds(started: number): string {
  return `${((performance.now() - started) / 1000).toFixed(1)} s`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
