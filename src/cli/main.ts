/**
 * The `vecforge` command. Built on the public API only.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { VecforgeError, type EngineOptions } from '../index.js';
import { kExitFatal, kExitUsage } from './exit-codes.js';

function intArg(name: string, min: number, max: number) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
    return n;
  };
}

interface CommonFlags {
  workers?: number;
  model?: string;
  backend?: string;
  config?: string;
  json?: boolean;
}

function engineOptions(flags: CommonFlags): EngineOptions {
  const out: EngineOptions = {};
  if (flags.workers !== undefined) out.workers = flags.workers;
  if (flags.model !== undefined) out.model = flags.model;
  if (flags.backend !== undefined) out.backend = flags.backend as EngineOptions['backend'];
  return out;
}

function withCommon(cmd: Command): Command {
  return cmd
    .addOption(new Option('--workers <n>', 'worker threads (default: cores)').argParser(intArg('--workers', 1, 64)))
    .option('--model <name>', 'embedding model (default: glove-100d)')
    .addOption(new Option('--backend <name>', 'TF.js backend').choices(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']))
    .option('--config <file>', 'JSON config file')
    .option('--json', 'machine-readable output', false);
}

/**
 * Builds the program.
 * @param setExit - receives the command's exit code.
 * @returns the commander program.
 */
export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('vecforge').description('Build and search HNSW vector indexes from text or vectors.').exitOverride();

  withCommon(program.command('embed').description('embed a JSONL file of {"id","text"} rows into a float32 .npy matrix'))
    .requiredOption('--input <file>', 'JSONL input')
    .requiredOption('--output <file>', '.npy output; ids go to <name>.ids.txt, failures to <name>.errors.jsonl')
    .action(async (flags: CommonFlags & { input: string; output: string }) => {
      const { runEmbed } = await import('./embed-command.js');
      setExit(await runEmbed({ input: flags.input, output: flags.output, json: flags.json === true, engine: engineOptions(flags), configFile: flags.config }));
    });

  withCommon(program.command('info').description("print the engine's backend, model and cache locations")).action(async (flags: CommonFlags) => {
    const { runInfo } = await import('./info-command.js');
    setExit(await runInfo({ engine: engineOptions(flags), json: flags.json === true, configFile: flags.config }));
  });

  withCommon(program.command('demo').description('embed the bundled sample corpus and answer its sample queries')).action(async (flags: CommonFlags) => {
    const { runDemo } = await import('./demo-command.js');
    setExit(await runDemo({ engine: engineOptions(flags), json: flags.json === true, configFile: flags.config }));
  });

  withCommon(program.command('build').description('build an index from precomputed vectors (--vectors FILE.npy)'))
    .requiredOption('--vectors <file>', 'float32 .npy matrix, one row per item')
    .option('--ids <file>', 'one id per line (default: the row number)')
    .requiredOption('--out <dir>', 'index directory')
    .addOption(new Option('--space <space>', 'distance space').choices(['cosine', 'ip', 'l2']).default('cosine'))
    .addOption(new Option('--m <n>', 'HNSW links per node').argParser(intArg('--m', 2, 2048)).default(16))
    .addOption(new Option('--ef-construction <n>', 'build candidate list size').argParser(intArg('--ef-construction', 1, 4096)).default(200))
    .action(async (flags: CommonFlags & { vectors: string; ids?: string; out: string; space: 'cosine' | 'ip' | 'l2'; m: number; efConstruction: number }) => {
      const { runBuildVectors } = await import('./index-commands.js');
      setExit(
        await runBuildVectors({
          vectors: flags.vectors,
          ids: flags.ids,
          out: flags.out,
          space: flags.space,
          m: flags.m,
          efConstruction: flags.efConstruction,
          json: flags.json === true,
          engine: engineOptions(flags),
          configFile: flags.config,
        }),
      );
    });

  withCommon(program.command('search').description('search an index').argument('<dir>', 'index directory'))
    .option('--vectors <file>', 'float32 .npy of query vectors')
    .option('--query <text>', 'one query text')
    .addOption(new Option('--k <n>', 'neighbours per query').argParser(intArg('--k', 1, 65536)).default(10))
    .addOption(new Option('--ef <n>', 'search candidate list size').argParser(intArg('--ef', 1, 1048576)))
    .option('--namespace <name>', 'only this namespace')
    .action(async (dir: string, flags: CommonFlags & { vectors?: string; query?: string; k: number; ef?: number; namespace?: string }) => {
      const { runSearch } = await import('./index-commands.js');
      setExit(
        await runSearch({ dir, vectors: flags.vectors, query: flags.query, k: flags.k, ef: flags.ef, namespace: flags.namespace, json: flags.json === true, engine: engineOptions(flags), configFile: flags.config }),
      );
    });

  program
    .command('bench')
    .description('run throughput benchmarks and write report.md / report.json')
    .addOption(new Option('--suite <name>', 'suite to run').default('all'))
    .option('--quick', 'small data, few iterations (CI smoke run)', false)
    .option('--report <dir>', 'report directory (default: reports/latest)')
    .action(async (flags: { suite: string; quick: boolean; report?: string }) => {
      const { runBench } = await import('../bench/main.js');
      await runBench({ suites: [flags.suite], quick: flags.quick, ...(flags.report !== undefined ? { reportDir: flags.report } : {}) });
      setExit(0);
    });

  return program;
}

/**
 * Runs the command line.
 * @param argv - process.argv.
 * @returns the exit code.
 */
export async function main(argv: readonly string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv as string[]);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : kExitUsage;
    if (error instanceof TypeError || error instanceof RangeError) {
      process.stderr.write(`vecforge: ${error.message}\n`);
      return kExitUsage;
    }
    const message = error instanceof VecforgeError ? `${error.message} (${error.code})` : error instanceof Error ? error.message : String(error);
    process.stderr.write(`vecforge: ${message}\n`);
    return kExitFatal;
  }
}
