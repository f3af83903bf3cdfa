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
