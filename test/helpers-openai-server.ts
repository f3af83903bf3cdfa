/**
 * A real OpenAI-compatible `/v1/embeddings` server on a free loopback port,
 * for the provider tests and the bench: deterministic vectors computed from
 * the text, scripted faults (429 with Retry-After, 5xx, a dropped
 * connection, a slow or hanging reply, protocol errors), a 400 for texts
 * holding a marker, a 413 above a batch size, and a record of every request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach } from 'vitest';
import { Engine, type EngineCreateOptions } from '../src/engine.js';
import { kTestCacheDir } from './helpers.js';

/** One scripted answer; faults are used up in order, one per request. */
export type ServerFault =
  | { readonly kind: 'status'; readonly status: number; readonly retryAfter?: string; readonly message?: string }
  | { readonly kind: 'drop' }
  | { readonly kind: 'slow'; readonly ms: number }
  | { readonly kind: 'hang' }
  | { readonly kind: 'bad-index' }
  | { readonly kind: 'dup-index' }
  | { readonly kind: 'bad-dims' };

/** Settings of the server. */
export interface OpenAIServerOptions {
  /** Dims of the vectors (the request's `dimensions` wins). @default 8 */
  readonly dims?: number;
  /** Latency added to every reply, ms. @default 0 */
  readonly latencyMs?: number;
  /** When set, a request without `Authorization: Bearer <key>` gets 401. */
  readonly apiKey?: string;
  /** A text containing this marker makes its whole request a 400. @default 'BAD!' */
  readonly badMarker?: string;
  /** A request of more than this many texts gets 413. @default Infinity */
  readonly maxBatch?: number;
  /** Answer in float even when base64 is asked for. @default false */
  readonly forceFloat?: boolean;
  /** Report `usage.total_tokens` (one per word). @default true */
  readonly usage?: boolean;
}

/** What the server saw of one request. */
export interface RecordedRequest {
  /** performance.timeOrigin + performance.now() at arrival and at the end of the reply. */
  readonly arrivedMs: number;
  endedMs: number;
  readonly texts: readonly string[];
  readonly authorization: string | undefined;
  readonly body: Record<string, unknown>;
  status: number;
}

/**
 * The deterministic vector the server answers for a text: FNV-1a hashes of
 * the text per dim, normalised.
 * @param text - the text.
 * @param dims - the dims.
 * @returns the vector.
 */
export function serverVector(text: string, dims: number): Float32Array {
  const v = new Float32Array(dims);
  let norm = 0;
  for (let d = 0; d < dims; d++) {
    let h = 0x811c9dc5 ^ (d * 0x9e3779b1);
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    const x = ((h >>> 0) / 0xffffffff) * 2 - 1;
    v[d] = x;
    norm += x * x;
  }
  const s = 1 / Math.sqrt(norm || 1);
  for (let d = 0; d < dims; d++) v[d] = (v[d] as number) * s;
  return v;
}

const now = (): number => performance.timeOrigin + performance.now();

/** See the module comment. */
export class OpenAIServer {
  readonly requests: RecordedRequest[] = [];
  readonly faults: ServerFault[] = [];
  /** Answer every request with this fault while set (after the queued faults). */
  failAll: ServerFault | null = null;
  #inFlight = 0;
  #maxInFlight = 0;
  #aborted = 0;
  readonly #server: Server;
  readonly #options: OpenAIServerOptions;
  readonly #sockets = new Set<Socket>();
  readonly #hanging = new Set<ServerResponse>();
  readonly #arrivalWaiters: Array<{ count: number; resolve: () => void }> = [];
  #url = '';

  private constructor(options: OpenAIServerOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => res.destroy());
    });
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  /**
   * Starts a server on a free loopback port.
   * @param options - see {@link OpenAIServerOptions}.
   * @returns the running server.
   */
  static async start(options: OpenAIServerOptions = {}): Promise<OpenAIServer> {
    const server = new OpenAIServer(options);
    await new Promise<void>((resolve) => server.#server.listen(0, '127.0.0.1', resolve));
    server.#url = `http://127.0.0.1:${(server.#server.address() as AddressInfo).port}/v1`;
    return server;
  }

  /** The base URL (`http://127.0.0.1:PORT/v1`). */
  get baseUrl(): string {
    return this.#url;
  }

  /** Most requests in flight at once so far. */
  get maxInFlight(): number {
    return this.#maxInFlight;
  }

  /** Requests whose client went away before the reply. */
  get aborted(): number {
    return this.#aborted;
  }

  /** Texts answered with 200, counted with repeats. */
  get textsServed(): string[] {
    return this.requests.filter((r) => r.status === 200).flatMap((r) => r.texts);
  }

  /**
   * Resolves once `count` requests have arrived in total.
   * @param count - the number of requests.
   * @returns when they have.
   */
  arrived(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#arrivalWaiters.push({ count, resolve }));
  }

  /** Stops the server, dropping held replies and open connections. */
  async close(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    const input = body.input;
    const texts = Array.isArray(input) ? (input as string[]) : [String(input)];
    const record: RecordedRequest = { arrivedMs: now(), endedMs: 0, texts, authorization: req.headers.authorization, body, status: 0 };
    this.requests.push(record);
    for (const w of this.#arrivalWaiters.filter((w) => this.requests.length >= w.count)) {
      this.#arrivalWaiters.splice(this.#arrivalWaiters.indexOf(w), 1);
      w.resolve();
    }
    this.#inFlight++;
    this.#maxInFlight = Math.max(this.#maxInFlight, this.#inFlight);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.#inFlight--;
      record.endedMs = now();
    };
    res.on('close', () => {
      if (!res.writableFinished) this.#aborted++;
      finish();
    });
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}): void => {
      // The client gave up (a timeout, an abort): nothing was served.
      if (res.destroyed) {
        record.status = -2;
        return;
      }
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    };
    const fault = this.faults.shift() ?? this.failAll ?? null;
    if ((this.#options.latencyMs ?? 0) > 0) await new Promise((r) => setTimeout(r, this.#options.latencyMs));
    if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.ms));
    if (fault?.kind === 'hang') {
      this.#hanging.add(res);
      return;
    }
    if (fault?.kind === 'drop') {
      record.status = -1;
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      send(fault.status, { error: { message: fault.message ?? `scripted ${fault.status}` } }, fault.retryAfter === undefined ? {} : { 'retry-after': fault.retryAfter });
      return;
    }
    const key = this.#options.apiKey;
    if (key !== undefined && req.headers.authorization !== `Bearer ${key}`) {
      send(401, { error: { message: `Incorrect API key provided: ${String(req.headers.authorization)}` } });
      return;
    }
    if (texts.length > (this.#options.maxBatch ?? Number.POSITIVE_INFINITY)) {
      send(413, { error: { message: `too many inputs: ${texts.length}` } });
      return;
    }
    const marker = this.#options.badMarker ?? 'BAD!';
    if (texts.some((t) => t.includes(marker))) {
      send(400, { error: { message: "This model's maximum context length is 8192 tokens; the input is invalid" } });
      return;
    }
    const dims = typeof body.dimensions === 'number' ? body.dimensions : (this.#options.dims ?? 8);
    const base64 = body.encoding_format === 'base64' && this.#options.forceFloat !== true;
    const data = texts.map((text, index) => {
      const v = serverVector(text, fault?.kind === 'bad-dims' && index === texts.length - 1 ? dims + 1 : dims);
      const embedding = base64 ? Buffer.from(v.buffer).toString('base64') : Array.from(v);
      return { object: 'embedding', index: fault?.kind === 'bad-index' ? texts.length + index : fault?.kind === 'dup-index' ? 0 : index, embedding };
    });
    // Answered in reverse order: clients must map by `index`, not by position.
    data.reverse();
    const tokens = texts.reduce((s, t) => s + t.split(/\s+/).length, 0);
    send(200, { object: 'list', model: body.model, data, ...(this.#options.usage === false ? {} : { usage: { prompt_tokens: tokens, total_tokens: tokens } }) });
  }
}

/**
 * Starts servers and provider engines for a test file and closes them after
 * each test: call once at the top of the file.
 * @returns setup(serverOptions, provider): a fresh server and an engine on it (8 dims, fast retries).
 */
export function useProviderEngines(): (serverOptions?: OpenAIServerOptions, provider?: EngineCreateOptions['provider']) => Promise<{ server: OpenAIServer; e: Engine }> {
  const servers: OpenAIServer[] = [];
  const engines: Engine[] = [];
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.close();
    for (const s of servers.splice(0)) await s.close();
  });
  return async (serverOptions = {}, provider = {}) => {
    const server = await OpenAIServer.start(serverOptions);
    servers.push(server);
    const e = await Engine.create({ model: 'openai:m', workers: 1, cacheDir: kTestCacheDir, provider: { baseUrl: server.baseUrl, dims: 8, retryBaseMs: 1, retryMaxMs: 5, ...provider } }, { env: {} });
    engines.push(e);
    return { server, e };
  };
}
