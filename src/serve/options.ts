/**
 * Options of `vecforge serve` in threes: {@link ServeOptions} (each with its
 * default), the frozen {@link kDefaultServeOptions}, and the resolved type.
 */
import { isIP } from 'node:net';
import { basename, resolve } from 'node:path';

/** One served index directory. */
export interface ServedIndex {
  /** The name in URLs (`/v1/indexes/{name}`): letters, digits, `.`, `_`, `-`. */
  readonly name: string;
  /** The index directory. */
  readonly dir: string;
}

/** Options of the server. Every field but the engine (given apart) is optional. */
export interface ServeOptions {
  /** The address to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** The port, an integer in [0, 65535]; 0 picks a free one. @default 8080 */
  readonly port?: number;
  /** Index directories served. @default none */
  readonly indexes?: readonly ServedIndex[];
  /** Texts (and query vectors) admitted at once, an integer in [1, 10000000]; over it, 429. @default 4096 */
  readonly maxQueue?: number;
  /** Largest request body, in bytes, an integer in [1024, 1073741824]; over it, 413. @default 16 MiB */
  readonly maxBodyBytes?: number;
  /** Search results cached, an integer in [0, 10000000]; 0 turns the cache off. @default 10000 */
  readonly cacheSize?: number;
  /** How long a cached result is served, in ms, an integer in [1, 86400000]. @default 60000 */
  readonly cacheTtlMs?: number;
  /** Required as `Authorization: Bearer …` on every route but /healthz and /readyz; never logged. @default none */
  readonly apiKey?: string | undefined;
  /** The one origin allowed by CORS. @default none (CORS off) */
  readonly cors?: string | undefined;
  /** How long a shutdown waits for requests in flight, in ms, an integer in [0, 600000]. @default 10000 */
  readonly drainMs?: number;
  /** Publish pending writes this often, in ms, an integer in [0, 86400000]; 0: only on `POST …/save`. @default 30000 */
  readonly saveIntervalMs?: number;
  /** Look for a version published by another process this often, in ms, an integer in [10, 3600000]. @default 1000 */
  readonly reloadPollMs?: number;
  /** Save pending writes when the server shuts down. @default true */
  readonly saveOnExit?: boolean;
}

/** The defaults of {@link ServeOptions}. */
export const kDefaultServeOptions = Object.freeze({
  host: '127.0.0.1',
  port: 8080,
  maxQueue: 4096,
  maxBodyBytes: 16 * 2 ** 20,
  cacheSize: 10_000,
  cacheTtlMs: 60_000,
  drainMs: 10_000,
  saveIntervalMs: 30_000,
  reloadPollMs: 1000,
  saveOnExit: true,
});

/** {@link ServeOptions} resolved and checked. */
export interface ResolvedServeOptions {
  readonly host: string;
  readonly port: number;
  readonly indexes: readonly ServedIndex[];
  readonly maxQueue: number;
  readonly maxBodyBytes: number;
  readonly cacheSize: number;
  readonly cacheTtlMs: number;
  readonly apiKey: string | undefined;
  readonly cors: string | undefined;
  readonly drainMs: number;
  readonly saveIntervalMs: number;
  readonly reloadPollMs: number;
  readonly saveOnExit: boolean;
}

/** The inclusive ranges of the integer options. */
export const kServeRanges = Object.freeze({
  port: [0, 65535],
  maxQueue: [1, 10_000_000],
  maxBodyBytes: [1024, 2 ** 30],
  cacheSize: [0, 10_000_000],
  cacheTtlMs: [1, 86_400_000],
  drainMs: [0, 600_000],
  saveIntervalMs: [0, 86_400_000],
  reloadPollMs: [10, 3_600_000],
} as const);

const kIndexName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function intOption(name: keyof typeof kServeRanges, value: unknown): number {
  const [min, max] = kServeRanges[name];
  if (typeof value !== 'number') throw new TypeError(`options.${name} must be an integer in [${min}, ${max}], got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`options.${name} must be an integer in [${min}, ${max}], got ${value}`);
  return value;
}

/**
 * Reads a served index argument: `DIR` (named by its last path part) or `NAME=DIR`.
 * @param arg - the argument.
 * @returns the name and the absolute directory.
 * @throws {RangeError} when the name is not usable in a URL.
 */
export function parseServedIndex(arg: string): ServedIndex {
  const eq = arg.indexOf('=');
  const named = eq > 0 && kIndexName.test(arg.slice(0, eq));
  const dir = resolve(named ? arg.slice(eq + 1) : arg);
  const name = named ? arg.slice(0, eq) : basename(dir);
  if (!kIndexName.test(name)) throw new RangeError(`index name ${JSON.stringify(name)} (from ${JSON.stringify(arg)}) must be letters, digits, ".", "_" or "-"; give one as NAME=DIR`);
  return { name, dir };
}

/**
 * Applies the defaults and checks every option.
 * @param options - as given.
 * @returns the resolved options.
 * @throws {TypeError | RangeError} naming the option.
 */
export function resolveServeOptions(options: ServeOptions = {}): ResolvedServeOptions {
  const d = kDefaultServeOptions;
  const host = options.host ?? d.host;
  if (typeof host !== 'string' || host === '') throw new TypeError(`options.host must be a non-empty string, got ${String(host)}`);
  if (isIP(host) === 0 && host !== 'localhost') throw new RangeError(`options.host must be an IP address or "localhost", got ${JSON.stringify(host)}`);
  const indexes = options.indexes ?? [];
  if (!Array.isArray(indexes)) throw new TypeError('options.indexes must be an array of { name, dir }');
  const names = new Set<string>();
  for (const [i, entry] of indexes.entries()) {
    if (entry === null || typeof entry !== 'object' || typeof entry.name !== 'string' || typeof entry.dir !== 'string') throw new TypeError(`options.indexes[${i}] must be { name, dir }`);
    if (!kIndexName.test(entry.name)) throw new RangeError(`options.indexes[${i}].name must be letters, digits, ".", "_" or "-", got ${JSON.stringify(entry.name)}`);
    if (names.has(entry.name)) throw new RangeError(`options.indexes: the name ${JSON.stringify(entry.name)} is given twice; name them apart with NAME=DIR`);
    names.add(entry.name);
  }
  const apiKey = options.apiKey;
  // The key's value is never part of a message.
  if (apiKey !== undefined && (typeof apiKey !== 'string' || apiKey.length < 8 || /\s/.test(apiKey))) throw new RangeError('options.apiKey must be a string of at least 8 characters without spaces');
  const cors = options.cors;
  if (cors !== undefined && (typeof cors !== 'string' || !/^https?:\/\/[^\s/]+$/.test(cors))) throw new RangeError(`options.cors must be an origin such as "https://app.example.com", got ${JSON.stringify(cors)}`);
  const saveOnExit = options.saveOnExit ?? d.saveOnExit;
  if (typeof saveOnExit !== 'boolean') throw new TypeError(`options.saveOnExit must be a boolean, got ${typeof saveOnExit}`);
  return Object.freeze({
    host,
    port: intOption('port', options.port ?? d.port),
    indexes: Object.freeze(indexes.map((e) => Object.freeze({ name: e.name, dir: resolve(e.dir) }))),
    maxQueue: intOption('maxQueue', options.maxQueue ?? d.maxQueue),
    maxBodyBytes: intOption('maxBodyBytes', options.maxBodyBytes ?? d.maxBodyBytes),
    cacheSize: intOption('cacheSize', options.cacheSize ?? d.cacheSize),
    cacheTtlMs: intOption('cacheTtlMs', options.cacheTtlMs ?? d.cacheTtlMs),
    apiKey,
    cors,
    drainMs: intOption('drainMs', options.drainMs ?? d.drainMs),
    saveIntervalMs: intOption('saveIntervalMs', options.saveIntervalMs ?? d.saveIntervalMs),
    reloadPollMs: intOption('reloadPollMs', options.reloadPollMs ?? d.reloadPollMs),
    saveOnExit,
  });
}
