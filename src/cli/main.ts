/**
 * The `vecforge` command. Built on the public API only.
 *
 * Every flag that sets a config key is parsed and validated by that key's
 * field (src/config), and resolves flags > env > config file > defaults;
 * see cli-config.ts.
 */
import { Command, CommanderError, Option } from 'commander';
import { VecforgeError } from '../errors.js';
import { flagOption, resolveCliConfig, type FlagName } from './cli-config.js';
import { exitCodeFor } from './exit-codes.js';
import { engineCreateOptions } from './provider-flags.js';
import { type ServeFlags, withServeFlags } from './serve-flags.js';
import { installSignalHandlers } from './signals.js';
import { UsageError } from './usage-error.js';

type Flags = Record<string, unknown>;

function withFlags(cmd: Command, names: readonly FlagName[]): Command {
  for (const name of names) cmd.addOption(flagOption(name));
  return cmd;
}

const kCommon: readonly FlagName[] = ['workers', 'model', 'backend', 'cacheDir', 'json'];

function withCommon(cmd: Command, extra: readonly FlagName[] = []): Command {
  withFlags(cmd, [...kCommon, ...extra]);
  return cmd.option('--config <file>', 'config file, JSON or YAML (default: vecforge.config.yaml, .yml or .json in the working directory)');
}

/** The options of a remote provider model (`--model openai:NAME`). */
const kProviderFlags: readonly FlagName[] = ['baseUrl', 'dims', 'concurrency', 'maxBatchItems', 'maxBatchTokens', 'requestsPerMinute', 'tokensPerMinute', 'requestTimeoutMs', 'maxRetries', 'breakerFailures', 'breakerCooldownMs'];

const kJobFlags: readonly FlagName[] = [
  'input',
  'format',
  'idField',
  'textField',
  'namespaceField',
  'metadataField',
  'checkpointItems',
  'checkpointSeconds',
  'chunkSize',
  'snippetChars',
  'maxRecordBytes',
  'embeddingCache',
  'space',
  'm',
  'efConstruction',
  'efSearch',
  'pca',
  'pcaSample',
  'rerank',
  'lexical',
  'stopWords',
  'bm25K1',
  'bm25B',
  'progress',
  ...kProviderFlags,
];

/**
 * Builds the program.
 * @param setExit - receives the command's exit code.
 * @returns the commander program.
 */
export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('vecforge').description('Build, update and search HNSW vector indexes from text or vectors.').exitOverride();

  withCommon(program.command('embed').description('embed a JSONL file of {"id","text"} rows into a float32 .npy matrix'), ['maxRecordBytes', ...kProviderFlags])
    .requiredOption('--input <file>', 'JSONL input')
    .requiredOption('--output <file>', '.npy output; ids go to <name>.ids.txt, failures to <name>.errors.jsonl')
    .action(async (flags: Flags & { input: string; output: string }) => {
      const { config } = resolveCliConfig(flags);
      const { runEmbed } = await import('./embed-command.js');
      setExit(await runEmbed({ input: flags.input, output: flags.output, json: config.output.json, engine: engineCreateOptions(config), maxRecordBytes: config.job.maxRecordBytes }));
    });

  withCommon(program.command('info').description("print the engine's backend, model and cache locations; with DIR, what the index holds").argument('[dir]', 'index directory'), kProviderFlags).action(
    async (dir: string | undefined, flags: Flags) => {
      const { config } = resolveCliConfig(flags);
      const { runInfo, runIndexInfo } = await import('./info-command.js');
      setExit(dir !== undefined ? runIndexInfo(dir, config.output.json) : await runInfo({ engine: engineCreateOptions(config), json: config.output.json }));
    },
  );

  withCommon(program.command('demo').description('index the bundled sample corpus and answer its sample queries'))
    .option('--out <dir>', 'keep the demo index in DIR (default: a temporary directory, removed at the end)')
    .action(async (flags: Flags & { out?: string }) => {
      const { out, ...rest } = flags;
      const { config } = resolveCliConfig(rest);
      const { runDemo } = await import('./demo-command.js');
      setExit(await runDemo({ config, out }));
    });

  withCommon(program.command('build').description('build a new index from JSONL or CSV (--input), or from precomputed vectors (--vectors FILE.npy)'), [...kJobFlags, 'out'])
    .option('--vectors <file>', 'float32 .npy matrix, one row per item, instead of --input')
    .option('--ids <file>', 'with --vectors: one id per line (default: the row number)')
    .option('--shards <n>', 'build a sharded index of N shards (JSONL input); see also --queue')
    .option('--queue <url>', 'with --shards: run the shard jobs on BullMQ workers over Redis at redis://HOST:PORT[/DB]')
    .option('--attempts <n>', 'with --queue: tries per shard job before it fails (default: 3)')
    .action(async (flags: Flags & { vectors?: string; ids?: string; shards?: string; queue?: string; attempts?: string }) => {
      const { shards, queue, attempts, ...rest } = flags;
      const cli = resolveCliConfig(rest);
      if (shards !== undefined || queue !== undefined) {
        if (flags.vectors !== undefined) throw new UsageError('--shards and --queue build from --input, not --vectors');
        const { parseCount, runShardedCommand } = await import('./shard-commands.js');
        if (shards === undefined) throw new UsageError('build --queue needs --shards N');
        setExit(await runShardedCommand('build', cli, { shards: parseCount('--shards', shards, 4096), queue, attempts: parseCount('--attempts', attempts, 100) }));
        return;
      }
      if (flags.vectors !== undefined) {
        if (flags.input !== undefined) throw new UsageError('build takes one of --input and --vectors, not both');
        const { runBuildVectors } = await import('./index-commands.js');
        const { pcaFromConfig } = await import('./pca-flags.js');
        const { lexicalFlagsGiven } = await import('./lexical-flags.js');
        const lexicalFlags = lexicalFlagsGiven(cli);
        if (lexicalFlags.length > 0) throw new UsageError(`${lexicalFlags.join(', ')}: the lexical index is built from texts (--input); an index from --vectors has none to index`);
        setExit(await runBuildVectors({ vectors: flags.vectors, ids: flags.ids, config: cli.config, pca: pcaFromConfig(cli) }));
        return;
      }
      const { runJobCommand } = await import('./job-commands.js');
      setExit(await runJobCommand('build', cli));
    });

  withCommon(program.command('reindex').description('update an index from its source: embed only new or changed documents, delete missing ones, publish a new version'), [
    ...kJobFlags,
    'index',
    'keepMissing',
    'full',
    'refitPca',
  ])
    .option('--queue <url>', 'a sharded index: run the shard jobs on BullMQ workers over Redis at redis://HOST:PORT[/DB]')
    .option('--attempts <n>', 'with --queue: tries per shard job before it fails (default: 3)')
    .action(async (flags: Flags & { queue?: string; attempts?: string }) => {
      const { queue, attempts, ...rest } = flags;
      const cli = resolveCliConfig(rest);
      const dir = cli.config.job.dir;
      const { isShardedIndex } = await import('../index/sharded/layout.js');
      if (queue !== undefined || (dir !== undefined && isShardedIndex(dir))) {
        const { parseCount, runShardedCommand } = await import('./shard-commands.js');
        setExit(await runShardedCommand('reindex', cli, { queue, attempts: parseCount('--attempts', attempts, 100) }));
        return;
      }
      const { runJobCommand } = await import('./job-commands.js');
      setExit(await runJobCommand('reindex', cli));
    });

  withCommon(program.command('search').description('search an index').argument('[dir]', 'index directory (default: job.dir of the config)'), ['query', 'queries', 'k', 'ef', 'namespace', 'maxRecordBytes', ...kProviderFlags])
    .option('--vectors <file>', 'float32 .npy of query vectors')
    .option('--mode <mode>', 'hybrid, vector or lexical (default: hybrid for an index built from text, else vector)')
    .action(async (dir: string | undefined, flags: Flags & { vectors?: string; mode?: string }) => {
      const { config } = resolveCliConfig(flags);
      const target = dir ?? config.job.dir;
      if (target === undefined) throw new UsageError('search needs an index directory: vecforge search DIR ...');
      const { runSearch } = await import('./search-command.js');
      setExit(await runSearch({ dir: target, vectors: flags.vectors, mode: flags.mode, config }));
    });

  withCommon(program.command('verify').description('check an index: checksums, counts, the graph loads, stored vectors find themselves').argument('[dir]', 'index directory (default: job.dir of the config)')).action(
    async (dir: string | undefined, flags: Flags) => {
      const { config } = resolveCliConfig(flags);
      const target = dir ?? config.job.dir;
      if (target === undefined) throw new UsageError('verify needs an index directory: vecforge verify DIR');
      const { runVerify } = await import('./verify-command.js');
      setExit(await runVerify(target, { engine: engineCreateOptions(config), json: config.output.json }));
    },
  );

  withServeFlags(
    withCommon(program.command('serve').description('serve embeddings (OpenAI /v1/embeddings), index searches and writes, and Prometheus metrics over HTTP').argument('[dirs...]', 'index directories to serve, each DIR or NAME=DIR'), kProviderFlags),
  ).action(async (dirs: string[], flags: Flags & ServeFlags) => {
    const { config } = resolveCliConfig(flags);
    const { runServe } = await import('./serve-command.js');
    setExit(await runServe(dirs, flags, config));
  });

  withCommon(program.command('worker').description('take shard jobs of sharded builds and reindexes from a BullMQ queue on Redis (until SIGTERM)'))
    .requiredOption('--queue <url>', 'Redis of the queue: redis://HOST:PORT[/DB]')
    .option('--lock-ms <ms>', "a job's lock lasts this long without renewal before another worker takes it over (default: 30000)")
    .option('--stalled-ms <ms>', 'how often stalled jobs are looked for (default: 30000)')
    .action(async (flags: Flags & { queue: string; lockMs?: string; stalledMs?: string }) => {
      const { queue, lockMs, stalledMs, ...rest } = flags;
      const { config } = resolveCliConfig(rest);
      const { runWorker } = await import('./worker-command.js');
      const { model, ...engine } = config.engine;
      setExit(await runWorker({ queue, engine, model, lockMs, stalledMs }));
    });

  withCommon(program.command('config').description('print the resolved configuration and where each value comes from')).action(async (flags: Flags) => {
    const cli = resolveCliConfig(flags);
    const { runConfig } = await import('./config-command.js');
    setExit(runConfig(cli));
  });

  program
    .command('bench')
    .description('run throughput benchmarks and write report.md / report.json')
    .addOption(new Option('--suite <names>', 'comma-separated suites: embed, batch, exchange, index (alias search), pca, pca-index, reindex, or all; soak (10 minutes), provider, serve, model, embed-command, quality and scale-out (several minutes each) only when named').default('all'))
    .option('--quick', 'small data, few iterations (CI smoke run)', false)
    .option('--report <dir>', 'report directory (default: reports/latest)')
    .action(async (flags: { suite: string; quick: boolean; report?: string }) => {
      // A launcher only: the benchmarks are the separate @vecforge/bench package.
      const { runBenchCommand } = await import('./bench-command.js');
      setExit(runBenchCommand(flags));
    });

  return program;
}

/**
 * Runs the command line.
 * @param argv - process.argv.
 * @returns the exit code.
 */
export async function main(argv: readonly string[]): Promise<number> {
  // First: a signal must work before any module loads or any directory is touched.
  installSignalHandlers();
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv as string[]);
    return code;
  } catch (error) {
    if (!(error instanceof CommanderError)) process.stderr.write(`vecforge: ${describeError(error)}\n`);
    return exitCodeFor(error);
  }
}

function describeError(error: unknown): string {
  if (error instanceof UsageError) return error.message;
  if (error instanceof VecforgeError) return `${error.message} (${error.code})`;
  if (!(error instanceof Error)) return String(error);
  // Not raised on purpose: name its class so an internal failure does not read like a usage hint.
  return error.name === 'Error' ? error.message : `${error.name}: ${error.message}`;
}
