/**
 * A real OpenAI-compatible `/v1/embeddings` server on a free loopback port,
 * shared by the provider tests (test/helpers-openai-server.ts imports it)
 * and the provider bench suite: deterministic vectors computed from the
 * text, scripted faults (429 with Retry-After, 5xx, a dropped connection, a
 * slow or hanging reply, protocol errors), a seeded share of random faults,
 * a 400 for texts holding a marker, a 413 above a batch size, and a record
 * of every request. Node's http module only: no vecforge import, so both
 * sides load it as it is.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

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
  /** Answer this share of requests (drawn by a seeded PRNG) with `fault`, e.g. 10% 429s. @default none */
  readonly randomFault?: { readonly fault: ServerFault; readonly rate: number; readonly seed?: number };
  /** Keep each request's texts and body in {@link OpenAIServer.requests} (a bench of many requests may not). @default true */
  readonly record?: boolean;
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
 * The deterministic vector the server answers for a text: a PRNG seeded by
 * the FNV-1a hash of the text, normalised. O(length + dims), so the server
 * spends little CPU next to the client it serves (the bench runs both in
 * one process).
 * @param text - the text.
 * @param dims - the dims.
 * @returns the vector.
 */
export function serverVector(text: string, dims: number): Float32Array {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  const next = mulberry32(h);
  const v = new Float32Array(dims);
  let norm = 0;
  for (let d = 0; d < dims; d++) {
    const x = next() * 2 - 1;
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
  /** From the `count`-th request on (1-based, counting every request), answer with `fault`, as `failAll` does: a fault caused by the job's own progress, not by a timer. */
  failFrom: { readonly count: number; readonly fault: ServerFault } | null = null;
  /** Requests answered with a random fault (see {@link OpenAIServerOptions.randomFault}). */
  randomFaults = 0;
  #rng: () => number;
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
    this.#rng = mulberry32(options.randomFault?.seed ?? 1);
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
    const keep = this.#options.record !== false;
    const record: RecordedRequest = { arrivedMs: now(), endedMs: 0, texts: keep ? texts : [], authorization: req.headers.authorization, body: keep ? body : {}, status: 0 };
    this.requests.push(record);
    const ordinal = this.requests.length;
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
    const from = this.failFrom !== null && ordinal >= this.failFrom.count ? this.failFrom.fault : null;
    let fault = this.faults.shift() ?? this.failAll ?? from ?? null;
    const random = this.#options.randomFault;
    if (fault === null && random !== undefined && this.#rng() < random.rate) {
      fault = random.fault;
      this.randomFaults++;
    }
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
 * mulberry32: a small seeded PRNG, so a run's random faults repeat.
 * @param seed - the seed.
 * @returns numbers in [0, 1).
 */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
