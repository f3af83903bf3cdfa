/**
 * A small Redis client speaking RESP2 over one TCP socket, shaped as
 * BullMQ's `IRedisClient` driver interface. A stopgap: BullMQ 6 loads
 * ioredis (an optional peer dependency) when it is installed, and this
 * repository does not ship it yet; connection.ts installs this driver
 * only when ioredis cannot be resolved. It does what BullMQ's own
 * node-redis and Bun adapters do: commands in order over one connection,
 * Lua scripts by EVALSHA with an EVAL fallback, MULTI/pipelines,
 * reconnection with the caller's retry strategy (commands issued while
 * disconnected wait for the connection; those in flight when it drops
 * fail with "Connection is closed.", which BullMQ retries).
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { encode, Parser, type Arg, type Reply } from './resp-parser.js';

/** What the client is created with (BullMQ passes its connection options). */
export interface RespClientOptions {
  readonly host?: string;
  readonly port?: number;
  readonly db?: number;
  readonly username?: string;
  readonly password?: string;
  readonly connectionName?: string;
  readonly retryStrategy?: (times: number) => number | undefined | null;
  readonly [key: string]: unknown;
}


interface Pending {
  readonly resolve: (r: Reply) => void;
  readonly reject: (e: Error) => void;
}

const kClosed = 'Connection is closed.';

function flat(args: readonly unknown[]): Arg[] {
  const out: Arg[] = [];
  for (const a of args) {
    if (Array.isArray(a)) out.push(...flat(a));
    else if (Buffer.isBuffer(a) || typeof a === 'string' || typeof a === 'number') out.push(a);
    else out.push(a === undefined || a === null ? '' : String(a));
  }
  return out;
}

function toObject(reply: Reply): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}

function hsetArgs(key: string, rest: readonly unknown[]): Arg[] {
  const [first] = rest;
  if (first !== null && typeof first === 'object' && !Array.isArray(first) && !Buffer.isBuffer(first)) {
    return ['HSET', key, ...Object.entries(first as Record<string, Arg>).flat()];
  }
  return ['HSET', key, ...flat(rest)];
}

function rangeArgs(cmd: string, key: string, start: number, end: number, o: unknown): Arg[] {
  const scores = o === 'WITHSCORES' || (o !== null && typeof o === 'object' && (o as { WITHSCORES?: boolean }).WITHSCORES === true);
  return scores ? [cmd, key, start, end, 'WITHSCORES'] : [cmd, key, start, end];
}

/** A script registered by defineCommand. */
interface Script {
  readonly sha: string;
  readonly lua: string;
  readonly numberOfKeys: number;
}

function scriptArgs(script: Script, args: readonly unknown[]): { keys: Arg[]; argv: Arg[] } {
  const all = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  const values = all.map((a) => (Buffer.isBuffer(a) ? a : a === undefined || a === null ? '' : typeof a === 'object' ? String(a) : (a as string | number)));
  return { keys: values.slice(0, script.numberOfKeys), argv: values.slice(script.numberOfKeys) };
}

/** A MULTI transaction or a pipeline: commands queued, sent by exec(). */
class Batch {
  readonly #client: RespClient;
  readonly #atomic: boolean;
  readonly #commands: { args: Arg[]; map: (r: Reply) => unknown }[] = [];

  constructor(client: RespClient, atomic: boolean) {
    this.#client = client;
    this.#atomic = atomic;
  }

  #add(args: Arg[], map: (r: Reply) => unknown = (r) => r): this {
    this.#commands.push({ args, map });
    return this;
  }

  hgetall(key: string): this {
    return this.#add(['HGETALL', key], toObject);
  }
  hset(key: string, ...rest: unknown[]): this {
    return this.#add(hsetArgs(key, rest));
  }
  hscan(key: string, cursor: string | number, o?: { COUNT?: number }): this {
    return this.#add(['HSCAN', key, cursor, ...(o?.COUNT !== undefined ? ['COUNT', o.COUNT] : [])]);
  }
  smembers(key: string): this {
    return this.#add(['SMEMBERS', key]);
  }
  sscan(key: string, cursor: string | number, o?: { COUNT?: number }): this {
    return this.#add(['SSCAN', key, cursor, ...(o?.COUNT !== undefined ? ['COUNT', o.COUNT] : [])]);
  }
  zrange(key: string, start: number, end: number, o?: unknown): this {
    return this.#add(rangeArgs('ZRANGE', key, start, end, o));
  }
  lrange(key: string, start: number, end: number): this {
    return this.#add(['LRANGE', key, start, end]);
  }
  llen(key: string): this {
    return this.#add(['LLEN', key]);
  }
  del(...keys: unknown[]): this {
    return this.#add(['DEL', ...flat(keys)]);
  }
  runCommand(name: string, args: unknown[]): this {
    const script = this.#client.script(name);
    const { keys, argv } = scriptArgs(script, args);
    // EVAL inside a batch: a NOSCRIPT there could not be retried on its own.
    return this.#add(['EVAL', script.lua, keys.length, ...keys, ...argv]);
  }

  async exec(): Promise<[Error | null, unknown][] | null> {
    const sent = this.#atomic ? [{ args: ['MULTI'] as Arg[], map: (r: Reply) => r }, ...this.#commands, { args: ['EXEC'] as Arg[], map: (r: Reply) => r }] : this.#commands;
    const replies = await Promise.all(sent.map((c) => this.#client.raw(c.args, false)));
    const results = this.#atomic ? replies.at(-1) : replies;
    if (results === null || !Array.isArray(results)) {
      if (results instanceof Error) throw results;
      return null;
    }
    return results.map((r, i) => (r instanceof Error ? [r, null] : [null, (this.#commands[i]?.map ?? ((x: Reply) => x))(r)]));
  }
}

/** BullMQ's driver interface over RESP2. */
export class RespClient extends EventEmitter {
  status = 'wait';
  readonly isCluster = false;
  options: Record<string, unknown>;
  #opts: RespClientOptions;
  readonly #scripts = new Map<string, Script>();
  #socket: Socket | null = null;
  #parser = new Parser();
  #pending: Pending[] = [];
  /** Commands issued while not connected, sent once ready. */
  #offline: { args: Arg[]; p: Pending }[] = [];
  #connecting: Promise<void> | null = null;
  #attempts = 0;
  #closing = false;

  constructor(opts: RespClientOptions) {
    super();
    this.#opts = opts;
    this.options = { ...opts };
  }

  connect(): Promise<void> {
    if (this.status === 'ready') return Promise.resolve();
    if (this.#connecting !== null) return this.#connecting;
    this.#closing = false;
    this.status = 'connecting';
    this.#connecting = new Promise<void>((resolve, reject) => {
      const socket = new Socket();
      this.#socket = socket;
      this.#parser = new Parser();
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => this.#onData(chunk));
      socket.once('error', (error) => {
        if (this.status === 'connecting') reject(error);
        this.emit('error', error);
      });
      socket.once('close', () => this.#onClose(socket));
      socket.connect(this.#opts.port ?? 6379, this.#opts.host ?? '127.0.0.1', () => {
        this.status = 'connect';
        this.emit('connect');
        this.#handshake().then(
          () => {
            this.#attempts = 0;
            this.status = 'ready';
            this.#connecting = null;
            const queued = this.#offline.splice(0);
            for (const q of queued) this.#send(q.args, q.p);
            this.emit('ready');
            resolve();
          },
          (error: Error) => {
            reject(error);
            this.emit('error', error);
            socket.destroy();
          },
        );
      });
    }).finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  async #handshake(): Promise<void> {
    const o = this.#opts;
    const send = (args: Arg[]): Promise<Reply> => new Promise((resolve, reject) => this.#send(args, { resolve, reject }));
    const check = (r: Reply): void => {
      if (r instanceof Error) throw r;
    };
    if (o.password !== undefined) check(await send(o.username !== undefined ? ['AUTH', o.username, o.password] : ['AUTH', o.password]));
    if (o.db !== undefined && o.db !== 0) check(await send(['SELECT', o.db]));
    if (o.connectionName !== undefined) check(await send(['CLIENT', 'SETNAME', o.connectionName]));
  }

  #onData(chunk: Buffer): void {
    this.#parser.push(chunk);
    for (let r = this.#parser.next(); r !== undefined; r = this.#parser.next()) {
      const p = this.#pending.shift();
      p?.resolve(r.reply);
    }
  }

  #onClose(socket: Socket): void {
    if (this.#socket !== socket) return;
    this.#socket = null;
    const failed = this.#pending.splice(0);
    for (const p of failed) p.reject(new Error(kClosed));
    this.emit('close');
    if (this.#closing) {
      this.status = 'end';
      for (const q of this.#offline.splice(0)) q.p.reject(new Error(kClosed));
      this.emit('end');
      return;
    }
    this.#attempts++;
    const delay = this.#opts.retryStrategy?.(this.#attempts);
    if (typeof delay !== 'number') {
      this.status = 'end';
      for (const q of this.#offline.splice(0)) q.p.reject(new Error(kClosed));
      this.emit('end');
      return;
    }
    this.status = 'reconnecting';
    this.emit('reconnecting', delay);
    setTimeout(() => {
      if (this.#closing) return;
      this.connect().catch(() => {
        // A failed attempt closes its socket, which schedules the next one.
      });
    }, delay);
  }

  #send(args: Arg[], p: Pending): void {
    const socket = this.#socket;
    if (socket === null) {
      p.reject(new Error(kClosed));
      return;
    }
    this.#pending.push(p);
    socket.write(encode(args));
  }

  /**
   * Sends one command.
   * @param args - the command and its arguments.
   * @param throwErrors - reject on an error reply (false: resolve with the Error).
   * @returns the reply.
   */
  raw(args: Arg[], throwErrors = true): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const p: Pending = { resolve: (r) => (throwErrors && r instanceof Error ? reject(r) : resolve(r)), reject };
      if (this.status === 'end' && this.#closing) reject(new Error(kClosed));
      else if (this.status === 'ready' || (this.status === 'connect' && this.#socket !== null && this.#connecting === null)) this.#send(args, p);
      else {
        this.#offline.push({ args, p });
        if (this.status === 'wait' || this.status === 'end') this.connect().catch(() => {});
      }
    });
  }

  disconnect(reconnect = false): void {
    this.#closing = !reconnect;
    if (this.#socket === null) {
      if (!reconnect && this.status !== 'end') {
        this.status = 'end';
        for (const q of this.#offline.splice(0)) q.p.reject(new Error(kClosed));
        setImmediate(() => this.emit('end'));
      }
      return;
    }
    this.#socket.destroy();
  }

  async quit(): Promise<string> {
    if (this.#socket === null) {
      this.disconnect();
      return 'OK';
    }
    this.#closing = true;
    const r = await this.raw(['QUIT']).catch(() => 'OK');
    this.#socket?.destroy();
    return String(r);
  }

  duplicate(overrides: Record<string, unknown> = {}): RespClient {
    const copy = new RespClient({ ...this.#opts, ...overrides });
    for (const [name, s] of this.#scripts) copy.#scripts.set(name, s);
    return copy;
  }

  defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void {
    this.#scripts.set(name, { sha: createHash('sha1').update(definition.lua).digest('hex'), lua: definition.lua, numberOfKeys: definition.numberOfKeys });
  }

  /** A registered script (for batches). */
  script(name: string): Script {
    const s = this.#scripts.get(name);
    if (s === undefined) throw new Error(`BullMQ: unknown command "${name}"`);
    return s;
  }

  async runCommand(name: string, args: unknown[]): Promise<unknown> {
    const script = this.script(name);
    const { keys, argv } = scriptArgs(script, args);
    try {
      return await this.raw(['EVALSHA', script.sha, keys.length, ...keys, ...argv]);
    } catch (error) {
      if (!(error as Error).message.includes('NOSCRIPT')) throw error;
      return this.raw(['EVAL', script.lua, keys.length, ...keys, ...argv]);
    }
  }

  multi(): Batch {
    return new Batch(this, true);
  }

  pipeline(): Batch {
    return new Batch(this, false);
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    return toObject(await this.raw(['HGETALL', key]));
  }
  hget(key: string, field: string): Promise<unknown> {
    return this.raw(['HGET', key, field]);
  }
  hmget(key: string, ...fields: unknown[]): Promise<unknown> {
    return this.raw(['HMGET', key, ...flat(fields)]);
  }
  hset(key: string, ...rest: unknown[]): Promise<unknown> {
    return this.raw(hsetArgs(key, rest));
  }
  hdel(key: string, ...fields: unknown[]): Promise<unknown> {
    return this.raw(['HDEL', key, ...flat(fields)]);
  }
  hexists(key: string, field: string): Promise<unknown> {
    return this.raw(['HEXISTS', key, field]);
  }
  get(key: string): Promise<unknown> {
    return this.raw(['GET', key]);
  }
  set(key: string, value: Arg, o?: unknown, ...rest: unknown[]): Promise<unknown> {
    if (typeof o === 'string') return this.raw(['SET', key, value, o, ...flat(rest)]);
    const opts = (o ?? {}) as { PX?: number; EX?: number };
    return this.raw(['SET', key, value, ...(opts.PX !== undefined ? ['PX', opts.PX] : opts.EX !== undefined ? ['EX', opts.EX] : [])]);
  }
  del(...keys: unknown[]): Promise<unknown> {
    return this.raw(['DEL', ...flat(keys)]);
  }
  zrange(key: string, start: number, end: number, o?: unknown): Promise<unknown> {
    return this.raw(rangeArgs('ZRANGE', key, start, end, o));
  }
  zrevrange(key: string, start: number, end: number, o?: unknown): Promise<unknown> {
    return this.raw(rangeArgs('ZREVRANGE', key, start, end, o));
  }
  zcard(key: string): Promise<unknown> {
    return this.raw(['ZCARD', key]);
  }
  zscore(key: string, member: string): Promise<unknown> {
    return this.raw(['ZSCORE', key, member]);
  }
  lrange(key: string, start: number, end: number): Promise<unknown> {
    return this.raw(['LRANGE', key, start, end]);
  }
  llen(key: string): Promise<unknown> {
    return this.raw(['LLEN', key]);
  }
  ltrim(key: string, start: number, end: number): Promise<unknown> {
    return this.raw(['LTRIM', key, start, end]);
  }
  lpos(key: string, value: string): Promise<unknown> {
    return this.raw(['LPOS', key, value]);
  }
  smembers(key: string): Promise<unknown> {
    return this.raw(['SMEMBERS', key]);
  }
  xadd(key: string, id: string, fields: unknown, ...rest: unknown[]): Promise<unknown> {
    if (typeof fields === 'string' || Array.isArray(fields)) return this.raw(['XADD', key, id, ...flat([fields, ...rest])]);
    const o = rest[0] as { MAXLEN?: number; approximate?: boolean } | undefined;
    const trim: Arg[] = o?.MAXLEN !== undefined ? ['MAXLEN', ...(o.approximate !== false ? ['~'] : []), o.MAXLEN] : [];
    // With MAXLEN the id follows the trim options.
    return this.raw(['XADD', key, ...trim, id, ...Object.entries(fields as Record<string, Arg>).flat()]);
  }
  xread(streams: unknown, o?: { BLOCK?: number; COUNT?: number }, ...rest: unknown[]): Promise<unknown> {
    if (!Array.isArray(streams) || typeof streams[0] !== 'object') return this.raw(['XREAD', ...flat([streams, o, ...rest])]);
    const list = streams as { key: string; id: string }[];
    return this.raw(['XREAD', ...(o?.COUNT !== undefined ? ['COUNT', o.COUNT] : []), ...(o?.BLOCK !== undefined ? ['BLOCK', o.BLOCK] : []), 'STREAMS', ...list.map((s) => s.key), ...list.map((s) => s.id)]);
  }
  xtrim(key: string, strategy: string, threshold: number, o?: { approximate?: boolean }): Promise<unknown> {
    return this.raw(['XTRIM', key, strategy, ...(o?.approximate === true ? ['~'] : []), threshold]);
  }
  bzpopmin(key: string, timeout: number): Promise<unknown> {
    return this.raw(['BZPOPMIN', key, timeout]);
  }
  info(): Promise<unknown> {
    return this.raw(['INFO']);
  }
  clientSetName(name: string): Promise<unknown> {
    this.#opts = { ...this.#opts, connectionName: name };
    return this.raw(['CLIENT', 'SETNAME', name]);
  }
  clientList(): Promise<unknown> {
    return this.raw(['CLIENT', 'LIST']);
  }
  clientInfo(): Promise<unknown> {
    return this.raw(['CLIENT', 'INFO']);
  }
  scan(cursor: string | number, o: { MATCH?: string; COUNT?: number } = {}): Promise<unknown> {
    return this.raw(['SCAN', cursor, ...(o.MATCH !== undefined ? ['MATCH', o.MATCH] : []), ...(o.COUNT !== undefined ? ['COUNT', o.COUNT] : [])]);
  }
  scanStream(o: { match: string; count?: number }): Readable {
    let cursor = '0';
    let started = false;
    const stream = new Readable({
      objectMode: true,
      read: () => {
        if (started && cursor === '0') {
          stream.push(null);
          return;
        }
        started = true;
        this.scan(cursor, { MATCH: o.match, ...(o.count !== undefined ? { COUNT: o.count } : {}) }).then(
          (r) => {
            const [next, keys] = r as [string, string[]];
            cursor = next;
            stream.push(keys);
          },
          (error: Error) => stream.destroy(error),
        );
      },
    });
    return stream;
  }
}
