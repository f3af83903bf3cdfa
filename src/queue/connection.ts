/**
 * Where the shard queue lives: a `redis://[user:password@]HOST:PORT[/DB]`
 * URL, checked once at start (a clear error naming the URL, its password
 * never shown), and the connection options BullMQ gets, which retry with
 * backoff when Redis goes away mid-build.
 */
import { Socket } from 'node:net';
import { VecforgeError } from '../errors.js';

/** The BullMQ queue of shard jobs. */
export const kShardQueueName = 'vecforge-shards';

/** A parsed Redis URL. */
export interface RedisTarget {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: boolean;
  /** The URL as it may be printed: the password replaced by `***`. */
  readonly display: string;
}

/**
 * The URL with its password hidden, for messages.
 * @param raw - a URL as given.
 * @returns the printable form.
 */
export function redactUrl(raw: string): string {
  // The text as given, with whatever sits between "user:" (or ":") and "@" replaced.
  return raw.replace(/^([a-z][\w+.-]*:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

/**
 * Parses `redis://[user:password@]HOST[:PORT][/DB]` (or `rediss://` for TLS).
 * @param raw - the URL.
 * @returns the target.
 * @throws {TypeError} naming the problem (the password hidden).
 */
export function parseRedisUrl(raw: string): RedisTarget {
  if (typeof raw !== 'string' || raw === '') throw new TypeError('--queue must be a redis://HOST:PORT[/DB] URL, got ""');
  const display = redactUrl(raw);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new TypeError(`--queue must be a redis://HOST:PORT[/DB] URL, got ${JSON.stringify(display)}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new TypeError(`--queue must be a redis:// or rediss:// URL, got ${JSON.stringify(display)}`);
  if (u.hostname === '') throw new TypeError(`--queue names no host: ${JSON.stringify(display)}`);
  const port = u.port === '' ? 6379 : Number(u.port);
  const path = u.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!Number.isInteger(db) || db < 0 || db > 15 || (path !== '' && !/^\d+$/.test(path))) throw new TypeError(`--queue database must be an integer in [0, 15], got ${JSON.stringify(path)} in ${JSON.stringify(display)}`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port,
    db,
    username: u.username !== '' ? decodeURIComponent(u.username) : undefined,
    password: u.password !== '' ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:',
    display,
  };
}

/** ioredis connection options, as BullMQ passes them on. */
export interface QueueConnectionOptions {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username?: string;
  readonly password?: string;
  readonly tls?: Record<string, never>;
  readonly maxRetriesPerRequest: null;
  readonly enableOfflineQueue: boolean;
  readonly retryStrategy: (times: number) => number;
}

/**
 * Connection options for BullMQ: commands wait (no per-request retry
 * limit, as BullMQ workers require) and the connection comes back with
 * backoff (0.2 s doubling to 5 s) after Redis was lost.
 * @param t - the target.
 * @returns ioredis options.
 */
export function queueConnection(t: RedisTarget): QueueConnectionOptions {
  return {
    host: t.host,
    port: t.port,
    db: t.db,
    ...(t.username !== undefined ? { username: t.username } : {}),
    ...(t.password !== undefined ? { password: t.password } : {}),
    ...(t.tls ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: (times: number) => Math.min(5000, 200 * 2 ** Math.min(times, 5)),
  };
}

/** A RESP command: an array of bulk strings. */
function resp(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/**
 * Checks that Redis answers, once, before any work starts: AUTH (when the
 * URL has a password), SELECT and PING on one plain socket. A probe only;
 * the queue's traffic goes through BullMQ's driver.
 * @param t - the target.
 * @param timeoutMs - how long to wait for it. @default 3000
 * @throws {VecforgeError} ERR_IO naming the URL (password hidden) and why.
 */
export async function checkRedis(t: RedisTarget, timeoutMs = 3000): Promise<void> {
  const commands: string[][] = [];
  if (t.password !== undefined) commands.push(t.username !== undefined ? ['AUTH', t.username, t.password] : ['AUTH', t.password]);
  commands.push(['SELECT', String(t.db)], ['PING']);
  const fail = (why: string, cause?: unknown): VecforgeError => new VecforgeError('ERR_IO', `cannot reach Redis at ${t.display}: ${why}`, { cause });
  if (t.tls) return; // The TLS handshake is left to the driver.
  await new Promise<void>((done, reject) => {
    const socket = new Socket();
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(fail(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (error?: VecforgeError): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error !== undefined) reject(error);
      else done();
    };
    socket.once('error', (error: NodeJS.ErrnoException) => finish(fail(error.code ?? error.message, error)));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const lines = text.split('\r\n').filter((l) => l !== '');
      const error = lines.find((l) => l.startsWith('-'));
      // A server error line (wrong password, no such database) says what is wrong; it never holds the password.
      if (error !== undefined) finish(fail(error.slice(1)));
      else if (lines.length >= commands.length) finish(lines.at(-1) === '+PONG' ? undefined : fail(`unexpected reply ${JSON.stringify(lines.at(-1)?.slice(0, 40))}`));
    });
    socket.connect(t.port, t.host, () => socket.write(commands.map(resp).join('')));
  });
}
