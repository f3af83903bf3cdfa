/**
 * The flags of `vecforge serve`, apart from the command so that the CLI
 * loads the server (fastify, prom-client) only when `serve` runs.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseDecimal } from '../config/fields.js';
import { kDefaultServeOptions, kServeRanges } from '../serve/options.js';

/** The environment variable that holds the API key (safer than --api-key, which `ps` shows). */
export const kServerApiKeyEnv = 'VECFORGE_SERVER_API_KEY';

function intFlag(flag: string, range: keyof typeof kServeRanges): (raw: string) => number {
  const [min, max] = kServeRanges[range];
  return (raw: string) => {
    const value = parseDecimal(raw);
    if (value === undefined || !Number.isInteger(value) || value < min || value > max) throw new InvalidArgumentError(`${flag} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
    return value;
  };
}

/**
 * Adds the server's own flags to a command.
 * @param cmd - the `serve` command.
 * @returns the command.
 */
export function withServeFlags(cmd: Command): Command {
  const d = kDefaultServeOptions;
  return cmd
    .addOption(new Option('--host <address>', `address to listen on (default: ${d.host}; anything else exposes the server)`))
    .addOption(new Option('--port <n>', `port, 0 for a free one (default: ${d.port})`).argParser(intFlag('--port', 'port')))
    .addOption(new Option('--max-queue <n>', `texts and query vectors admitted at once; over it, 429 (default: ${d.maxQueue})`).argParser(intFlag('--max-queue', 'maxQueue')))
    .addOption(new Option('--max-body-bytes <n>', `largest request body; over it, 413 (default: ${d.maxBodyBytes})`).argParser(intFlag('--max-body-bytes', 'maxBodyBytes')))
    .addOption(new Option('--cache-size <n>', `search results cached, 0 for none (default: ${d.cacheSize})`).argParser(intFlag('--cache-size', 'cacheSize')))
    .addOption(new Option('--cache-ttl-ms <n>', `how long a cached result is served (default: ${d.cacheTtlMs})`).argParser(intFlag('--cache-ttl-ms', 'cacheTtlMs')))
    .addOption(new Option('--api-key <key>', `require Authorization: Bearer KEY on every route but /healthz and /readyz (default: $${kServerApiKeyEnv}; the flag shows in ps, prefer the variable)`))
    .addOption(new Option('--cors <origin>', 'allow this one origin by CORS (default: CORS off)'))
    .addOption(new Option('--drain-ms <n>', `on SIGTERM, how long requests in flight may finish (default: ${d.drainMs})`).argParser(intFlag('--drain-ms', 'drainMs')))
    .addOption(new Option('--save-interval-ms <n>', `save pending writes this often, 0 for only POST .../save (default: ${d.saveIntervalMs})`).argParser(intFlag('--save-interval-ms', 'saveIntervalMs')))
    .addOption(new Option('--reload-poll-ms <n>', `look for a version published by another process this often (default: ${d.reloadPollMs})`).argParser(intFlag('--reload-poll-ms', 'reloadPollMs')))
    .option('--no-save-on-exit', 'on SIGTERM, do not save pending writes (they are lost)');
}

/** The flags `serve` reads. */
export interface ServeFlags {
  readonly host?: string;
  readonly port?: number;
  readonly maxQueue?: number;
  readonly maxBodyBytes?: number;
  readonly cacheSize?: number;
  readonly cacheTtlMs?: number;
  readonly apiKey?: string;
  readonly cors?: string;
  readonly drainMs?: number;
  readonly saveIntervalMs?: number;
  readonly reloadPollMs?: number;
  readonly saveOnExit?: boolean;
}

