/**
 * `vecforge serve`: the engine and zero or more index directories behind
 * HTTP (fastify, JSON-schema validated bodies), with Prometheus metrics
 * (prom-client), a bounded admission queue (429), a result cache, the
 * switch to versions another process publishes, and a graceful drain.
 *
 * Security: listens on 127.0.0.1 unless told otherwise; with an API key,
 * every route but /healthz and /readyz needs `Authorization: Bearer KEY`
 * (compared in constant time; the key is never logged or echoed); no route
 * takes a file path; CORS is off unless one origin is given.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type Engine, type Hit, SearchCache, VecforgeError } from '../index.js';
import { Admission, QueueFullError, TooManyItemsError } from './admission.js';
import { type ServeContext, HttpError } from './context.js';
import { IndexSlot } from './index-slot.js';
import { createServerMetrics } from './metrics.js';
import { type ServeOptions, resolveServeOptions } from './options.js';
import { registerEmbeddingRoutes } from './routes-embeddings.js';
import { registerIndexRoutes } from './routes-indexes.js';
import { registerSearchRoutes } from './routes-search.js';

/** Routes answered without the API key: liveness and readiness probes carry no credentials. */
const kOpenRoutes = new Set(['/healthz', '/readyz']);

/** Options of {@link VecforgeServer.close}. */
export interface CloseOptions {
  /** How long requests in flight may take before their connections are cut, in ms. @default the server's drainMs */
  readonly drainMs?: number;
  /** Save pending writes before the indexes close. @default the server's saveOnExit */
  readonly save?: boolean;
}

/** A line of the server's log (never a header, a body or the API key). */
export type ServeLog = (line: string) => void;

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The error body: OpenAI's shape, `{ error: { message, type, param, code } }`. */
function errorBody(status: number, message: string, param: string | null, code: string): Record<string, unknown> {
  const type = status === 401 ? 'authentication_error' : status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message, type, param, code } };
}

/** `/input/3` → `input[3]`; `/filter/a` → `filter.a`. */
function paramOf(instancePath: string, extra: string | undefined): string {
  const parts = instancePath.split('/').filter((p) => p !== '');
  if (extra !== undefined) parts.push(extra);
  return parts.reduce((out, p) => (/^\d+$/.test(p) ? `${out}[${p}]` : out === '' ? p : `${out}.${p}`), '');
}

/** A running server. Start with {@link VecforgeServer.start}. */
export class VecforgeServer {
  readonly #app: FastifyInstance;
  readonly #ctx: ServeContext;
  readonly #log: ServeLog;
  readonly #timers: NodeJS.Timeout[] = [];
  #url = '';
  #draining = false;
  #closing: Promise<void> | null = null;

  private constructor(app: FastifyInstance, ctx: ServeContext, log: ServeLog) {
    this.#app = app;
    this.#ctx = ctx;
    this.#log = log;
  }

  /**
   * Opens the indexes, registers the routes and listens.
   * @param engine - a started engine (create it with `coalesceMs` > 0 so concurrent requests share batches); the caller closes it after the server.
   * @param options - see {@link ServeOptions}.
   * @param log - where start-up, reload and save lines go. @default stderr
   * @returns the listening server.
   * @throws {TypeError | RangeError} for invalid options.
   * @throws {VecforgeError} when an index does not open.
   */
  static async start(engine: Engine, options: ServeOptions = {}, log: ServeLog = (line) => process.stderr.write(`${line}\n`)): Promise<VecforgeServer> {
    const resolved = resolveServeOptions(options);
    const slots = new Map<string, IndexSlot>();
    try {
      for (const { name, dir } of resolved.indexes) slots.set(name, await IndexSlot.open(engine, name, dir));
    } catch (error) {
      for (const slot of slots.values()) await slot.close();
      throw error;
    }
    const info = engine.info();
    const admission = new Admission(resolved.maxQueue);
    const cache = resolved.cacheSize > 0 ? new SearchCache<Hit[]>({ size: resolved.cacheSize, ttlMs: resolved.cacheTtlMs }) : null;
    const metrics = createServerMetrics({ engine, admission, slots, cacheEntries: () => cache?.stats().entries ?? 0 });
    const ctx: ServeContext = { engine, options: resolved, admission, slots, cache, metrics, model: info.model, dims: info.dims };
    const app = Fastify({
      logger: false,
      bodyLimit: resolved.maxBodyBytes,
      // Strict bodies: nothing coerced, nothing silently dropped.
      ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false, allowUnionTypes: true } },
      // Keep-alive connections idle at close are cut at once; busy ones finish.
      forceCloseConnections: 'idle',
      return503OnClosing: true,
    });
    const server = new VecforgeServer(app, ctx, log);
    server.#register();
    try {
      await app.listen({ host: resolved.host, port: resolved.port });
    } catch (error) {
      await app.close();
      for (const slot of slots.values()) await slot.close();
      throw error;
    }
    const address = app.server.address();
    const port = address !== null && typeof address === 'object' ? address.port : resolved.port;
    server.#url = `http://${resolved.host.includes(':') ? `[${resolved.host}]` : resolved.host}:${port}`;
    server.#startTimers();
    return server;
  }

  /** The base URL, e.g. `http://127.0.0.1:8080`. */
  get url(): string {
    return this.#url;
  }

  /** The served indexes, by name. */
  get slots(): ReadonlyMap<string, { readonly version: string | null; readonly pendingCount: number; readonly reloads: number }> {
    return this.#ctx.slots;
  }

  #register(): void {
    const app = this.#app;
    const ctx = this.#ctx;
    const { metrics, options } = ctx;
    const started = new WeakMap<FastifyRequest, number>();
    const keyDigest = options.apiKey !== undefined ? digest(options.apiKey) : null;

    app.addHook('onRequest', async (request, reply) => {
      started.set(request, performance.now());
      metrics.inFlight.inc();
      if (options.cors !== undefined && request.headers.origin === options.cors) {
        void reply.header('access-control-allow-origin', options.cors).header('vary', 'origin');
      }
      if (this.#draining && !kOpenRoutes.has(request.routeOptions.url ?? '')) {
        return reply.code(503).header('connection', 'close').send(errorBody(503, 'the server is shutting down', null, 'shutting_down'));
      }
      if (keyDigest === null || kOpenRoutes.has(request.routeOptions.url ?? '') || (request.method === 'OPTIONS' && options.cors !== undefined)) return;
      const header = request.headers.authorization;
      const given = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : '';
      if (!timingSafeEqual(digest(given), keyDigest)) {
        metrics.rejected.inc({ reason: 'unauthorized' });
        return reply.code(401).header('www-authenticate', 'Bearer').send(errorBody(401, 'a valid API key is required: Authorization: Bearer KEY', null, 'invalid_api_key'));
      }
    });
    app.addHook('onSend', async (_request, reply) => {
      // While draining, a response (one in flight included) ends its keep-alive connection, so close() need not wait for it to idle out.
      if (this.#draining) void reply.header('connection', 'close');
    });
    app.addHook('onResponse', async (request, reply) => {
      metrics.inFlight.dec();
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
      const t0 = started.get(request);
      if (t0 !== undefined) metrics.duration.observe({ route, method: request.method }, (performance.now() - t0) / 1000);
    });

    app.setErrorHandler((error: FastifyError | Error, _request: FastifyRequest, reply: FastifyReply) => this.#answerError(error, reply));
    app.setNotFoundHandler((request, reply) => {
      void reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url.split('?')[0]}`, null, 'not_found'));
    });

    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_request, reply) => {
      if (this.#draining) return reply.code(503).send({ status: 'draining' });
      return { status: 'ready', model: ctx.model, indexes: [...ctx.slots.values()].map((s) => ({ name: s.name, version: s.version })) };
    });
    app.get('/metrics', async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.header('content-type', metrics.registry.contentType).send(text);
    });
    if (options.cors !== undefined) {
      app.options('/*', async (_request, reply) =>
        reply
          .code(204)
          .header('access-control-allow-methods', 'GET, POST, DELETE, OPTIONS')
          .header('access-control-allow-headers', 'authorization, content-type')
          .header('access-control-max-age', '600')
          .send(),
      );
    }
    registerEmbeddingRoutes(app, ctx);
    registerSearchRoutes(app, ctx);
    registerIndexRoutes(app, ctx);
  }

  #answerError(error: FastifyError | Error, reply: FastifyReply): FastifyReply {
    const { metrics } = this.#ctx;
    const validation = (error as FastifyError).validation;
    if (validation !== undefined && validation.length > 0) {
      const first = validation[0];
      const params = (first?.params ?? {}) as { additionalProperty?: string; missingProperty?: string };
      const param = paramOf(first?.instancePath ?? '', params.additionalProperty ?? params.missingProperty);
      const what = params.additionalProperty !== undefined ? 'is not a known field' : params.missingProperty !== undefined ? 'is required' : (first?.message ?? 'is invalid');
      return reply.code(400).send(errorBody(400, `${param === '' ? 'the body' : param} ${what}`, param === '' ? null : param, 'invalid_value'));
    }
    if (error instanceof HttpError) return reply.code(error.status).send(errorBody(error.status, error.message, error.param, error.code));
    if (error instanceof QueueFullError) {
      metrics.rejected.inc({ reason: 'queue_full' });
      return reply.code(429).header('retry-after', String(error.retryAfterSeconds)).send(errorBody(429, error.message, null, 'queue_full'));
    }
    if (error instanceof TooManyItemsError) {
      metrics.rejected.inc({ reason: 'too_large' });
      return reply.code(413).send(errorBody(413, error.message, null, 'too_many_items'));
    }
    const status = (error as FastifyError).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      if (status === 413) metrics.rejected.inc({ reason: 'too_large' });
      const message = status === 413 ? `the request body is larger than the server accepts (--max-body-bytes ${this.#ctx.options.maxBodyBytes})` : error.message;
      return reply.code(status).send(errorBody(status, message, null, (error as FastifyError).code ?? 'invalid_request'));
    }
    if (error instanceof TypeError || error instanceof RangeError) return reply.code(400).send(errorBody(400, error.message, null, 'invalid_value'));
    if (error instanceof VecforgeError) {
      const code = error.code;
      const s = code === 'ERR_INVALID_INPUT' ? 400 : code === 'ERR_CLOSED' ? 503 : code === 'ERR_LOCKED' || code === 'ERR_CONFLICT' ? 409 : 500;
      return reply.code(s).send(errorBody(s, error.message, null, code));
    }
    this.#log(`vecforge serve: internal error: ${error.name}: ${error.message}`);
    return reply.code(500).send(errorBody(500, 'internal error', null, 'internal_error'));
  }

  #startTimers(): void {
    const { options, slots } = this.#ctx;
    for (const slot of slots.values()) {
      let polling = false;
      const poll = setInterval(() => {
        if (polling || this.#draining) return;
        polling = true;
        slot
          .poll()
          .then((switched) => {
            if (switched) this.#log(`vecforge serve: index ${slot.name} now serves ${slot.version}`);
          })
          .catch((error: unknown) => this.#log(`vecforge serve: index ${slot.name}: a new version could not be opened: ${error instanceof Error ? error.message : String(error)}`))
          .finally(() => {
            polling = false;
          });
      }, options.reloadPollMs);
      poll.unref();
      this.#timers.push(poll);
      if (options.saveIntervalMs === 0) continue;
      let saving = false;
      const save = setInterval(() => {
        if (saving || this.#draining || slot.pendingCount === 0) return;
        saving = true;
        this.#save(slot).finally(() => {
          saving = false;
        });
      }, options.saveIntervalMs);
      save.unref();
      this.#timers.push(save);
    }
  }

  async #save(slot: IndexSlot): Promise<void> {
    try {
      const r = await slot.save();
      this.#ctx.metrics.saves.inc({ index: slot.name, outcome: r.saved > 0 ? 'saved' : 'nothing' });
      if (r.saved > 0) this.#log(`vecforge serve: index ${slot.name}: saved ${r.saved} writes as ${r.version}`);
    } catch (error) {
      this.#ctx.metrics.saves.inc({ index: slot.name, outcome: 'failed' });
      this.#log(`vecforge serve: index ${slot.name}: save failed, ${slot.pendingCount} writes stay pending: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /**
   * Stops accepting requests (new ones get 503, /readyz turns 503), waits
   * for those in flight up to `drainMs` then cuts their connections, saves
   * pending writes if asked, and closes the indexes. The engine is the
   * caller's to close.
   * @param options - drain time and whether to save.
   * @returns nothing; a second call waits for the first.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#close(options.drainMs ?? this.#ctx.options.drainMs, options.save ?? this.#ctx.options.saveOnExit);
    return this.#closing;
  }

  async #close(drainMs: number, save: boolean): Promise<void> {
    this.#draining = true;
    for (const t of this.#timers) clearInterval(t);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), drainMs);
    });
    const closed = this.#app.close().then(() => 'closed' as const);
    const how = await Promise.race([closed, deadline]);
    clearTimeout(timer);
    if (how === 'timeout') {
      this.#log(`vecforge serve: requests still in flight after ${drainMs} ms; closing their connections`);
      this.#app.server.closeAllConnections();
      await closed;
    }
    for (const slot of this.#ctx.slots.values()) {
      if (save && slot.pendingCount > 0) await this.#save(slot);
      await slot.close();
    }
  }
}
