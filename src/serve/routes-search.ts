/**
 * `POST /v1/indexes/{name}/search` and `/retrieve-all`. Query texts are
 * embedded through the engine (shared pool batches with every other
 * request), then searched on the version the request started on. Results
 * are cached by (index, version, write generation, query, parameters).
 */
import type { FastifyInstance } from 'fastify';
import { type FusionOptions, type Hit, type MetadataFilter, SearchCache, type SearchMode, type SearchOptions, type VectorIndex } from '../index.js';
import { type ServeContext, HttpError, slotOf } from './context.js';
import type { IndexSlot } from './index-slot.js';
import { kFusionMethods } from '../index/lexical/options.js';

/** The most queries (or vectors) one search request holds. */
export const kMaxQueries = 1024;

const kVector = { type: 'array', minItems: 1, maxItems: 65536, items: { type: 'number' } } as const;
const kNamespace = { type: ['string', 'array'], minLength: 1, minItems: 1, maxItems: 1024, items: { type: 'string', minLength: 1 } } as const;

const kMode = { type: 'string', enum: ['hybrid', 'vector', 'lexical'] } as const;
const kFusion = {
  type: 'object',
  additionalProperties: false,
  properties: {
    method: { type: 'string', enum: kFusionMethods },
    k: { type: 'number', exclusiveMinimum: 0 },
    weights: { type: 'object', additionalProperties: false, properties: { vector: { type: 'number', minimum: 0 }, lexical: { type: 'number', minimum: 0 } } },
  },
} as const;

const kSearchSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    query: { type: 'string', minLength: 1 },
    queries: { type: 'array', minItems: 1, maxItems: kMaxQueries, items: { type: 'string', minLength: 1 } },
    vector: kVector,
    vectors: { type: 'array', minItems: 1, maxItems: kMaxQueries, items: kVector },
    k: { type: 'integer', minimum: 1, maximum: 10000 },
    ef: { type: 'integer', minimum: 1, maximum: 100000 },
    namespace: kNamespace,
    filter: { type: 'object' },
    rerankFactor: { type: 'integer', minimum: 0, maximum: 1000 },
    mode: kMode,
    fusion: kFusion,
  },
} as const;

const kRetrieveAllSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['namespaces'],
  properties: {
    query: { type: 'string', minLength: 1 },
    vector: kVector,
    namespaces: { type: 'object', minProperties: 1, maxProperties: 1024, additionalProperties: { type: 'integer', minimum: 1, maximum: 10000 } },
    ef: { type: 'integer', minimum: 1, maximum: 100000 },
    filter: { type: 'object' },
    mode: kMode,
    fusion: kFusion,
  },
} as const;

interface SearchBody {
  readonly query?: string;
  readonly queries?: string[];
  readonly vector?: number[];
  readonly vectors?: number[][];
  readonly k?: number;
  readonly ef?: number;
  readonly namespace?: string | string[];
  readonly filter?: MetadataFilter;
  readonly rerankFactor?: number;
  readonly mode?: SearchMode;
  readonly fusion?: FusionOptions;
}

interface RetrieveAllBody {
  readonly query?: string;
  readonly vector?: number[];
  readonly namespaces: Record<string, number>;
  readonly ef?: number;
  readonly filter?: MetadataFilter;
  readonly mode?: SearchMode;
  readonly fusion?: FusionOptions;
}

/** One answer of a many-query search: its hits, or why it has none. */
type QueryAnswer = { readonly hits: Hit[] } | { readonly error: { readonly code: string; readonly message: string } };

/** Which of the query fields a body uses; exactly one is allowed. */
function queryField(body: { readonly [key: string]: unknown }, fields: readonly string[]): string {
  const given = fields.filter((f) => body[f] !== undefined);
  if (given.length !== 1) throw new HttpError(400, 'invalid_value', `the body needs exactly one of ${fields.join(', ')}; got ${given.length === 0 ? 'none' : given.join(', ')}`, given[1] ?? fields[0] ?? null);
  return given[0] as string;
}

/** Search options with k clamped to the index's count and ef to at least k. */
function searchOptions(index: VectorIndex, body: SearchBody): SearchOptions | null {
  const count = index.count;
  if (count === 0) return null;
  const k = Math.min(body.k ?? 10, count);
  return {
    k,
    ...(body.ef !== undefined ? { ef: Math.max(body.ef, k) } : {}),
    ...(body.namespace !== undefined ? { namespace: body.namespace } : {}),
    ...(body.filter !== undefined ? { filter: body.filter } : {}),
    ...(body.rerankFactor !== undefined ? { rerankFactor: body.rerankFactor } : {}),
    ...(body.mode !== undefined ? { mode: body.mode } : {}),
    ...(body.fusion !== undefined ? { fusion: body.fusion } : {}),
  };
}

/**
 * Searches query texts through the library's own text path, which runs the
 * lexical side beside the graph (`hybrid`, `lexical`, or the index's default
 * mode), as one `searchBatchSettled`: the texts are embedded together and
 * BM25 runs for the whole batch; a text neither side can answer gets its
 * error in its place.
 */
async function searchTexts(index: VectorIndex, texts: readonly string[], options: SearchOptions, label: (i: number) => string): Promise<QueryAnswer[]> {
  // One batch (BM25 for all of it on native threads); a query that cannot be answered fails alone.
  const settled = await index.searchBatchSettled(texts, options);
  return settled.map((r, i) => (r.state === 'ok' ? { hits: r.hits } : { error: { code: r.code, message: `${label(i)} ${r.reason}` } }));
}

/**
 * Embeds query texts through the engine.
 * @returns row-major vectors, and the reason of each text that failed (undefined for ok).
 */
async function embedQueries(ctx: ServeContext, texts: readonly string[]): Promise<{ vectors: Float32Array; failures: Array<string | undefined> }> {
  if (texts.length === 0) return { vectors: new Float32Array(0), failures: [] };
  ctx.metrics.batchTexts.observe({ kind: 'search' }, texts.length);
  const r = await ctx.engine.embed(texts);
  return { vectors: r.vectors, failures: r.items.map((item) => (item.state === 'failed' ? `${item.reason} (${item.code})` : undefined)) };
}

function checkDims(index: VectorIndex, v: readonly number[], param: string): Float32Array {
  if (v.length !== index.dims) throw new HttpError(400, 'invalid_value', `${param} has ${v.length} values, the index has ${index.dims} dims`, param);
  return Float32Array.from(v);
}

/** Answers every query, from the cache where it can. */
async function answerQueries(ctx: ServeContext, slot: IndexSlot, index: VectorIndex, scope: string, body: SearchBody, field: string): Promise<QueryAnswer[]> {
  const options = searchOptions(index, body);
  const texts = field === 'query' ? [body.query as string] : field === 'queries' ? (body.queries as string[]) : null;
  const raw = field === 'vector' ? [body.vector as number[]] : field === 'vectors' ? (body.vectors as number[][]) : null;
  const n = texts?.length ?? raw?.length ?? 0;
  const queries: Array<string | Float32Array> = texts ?? (raw ?? []).map((v, i) => checkDims(index, v, field === 'vector' ? 'vector' : `vectors[${i}]`));
  if (options === null) return queries.map(() => ({ hits: [] }));
  const answers: Array<QueryAnswer | undefined> = new Array(n);
  const keys = queries.map((q) => SearchCache.key(scope, { ...options, signal: undefined }, q));
  const cache = ctx.cache;
  if (cache !== null) {
    for (let i = 0; i < n; i++) {
      const hits = cache.get(keys[i] as string);
      if (hits !== undefined) answers[i] = { hits };
    }
    const hit = answers.filter((a) => a !== undefined).length;
    if (hit > 0) ctx.metrics.cacheHits.inc({ index: slot.name }, hit);
    if (n - hit > 0) ctx.metrics.cacheMisses.inc({ index: slot.name }, n - hit);
  }
  const missing = queries.flatMap((_q, i) => (answers[i] === undefined ? [i] : []));
  if (missing.length === 0) return answers as QueryAnswer[];
  if (texts !== null && body.mode !== 'vector') {
    const answered = await searchTexts(index, missing.map((i) => texts[i] as string), options, (j) => (field === 'query' ? 'query' : `queries[${missing[j]}]`));
    ctx.metrics.batchTexts.observe({ kind: 'search' }, missing.length);
    missing.forEach((i, j) => {
      const a = answered[j] as QueryAnswer;
      answers[i] = a;
      if ('hits' in a) cache?.set(keys[i] as string, a.hits);
    });
    return answers as QueryAnswer[];
  }
  const missingTexts = missing.flatMap((i) => (typeof queries[i] === 'string' ? [queries[i] as string] : []));
  const embedded = await embedQueries(ctx, missingTexts);
  const dims = index.dims;
  const rows = new Float32Array(missing.length * dims);
  const searched: number[] = [];
  let t = 0;
  for (const i of missing) {
    const q = queries[i];
    if (typeof q === 'string') {
      const failure = embedded.failures[t];
      const at = t++;
      if (failure !== undefined) {
        answers[i] = { error: { code: 'EMBED_FAILED', message: `${field === 'query' ? 'query' : `queries[${i}]`} cannot be embedded: ${failure}` } };
        continue;
      }
      rows.set(embedded.vectors.subarray(at * dims, (at + 1) * dims), searched.length * dims);
    } else if (q !== undefined) rows.set(q, searched.length * dims);
    searched.push(i);
  }
  if (searched.length > 0) {
    const results = searched.length === 1 ? [await index.search(rows.subarray(0, dims), options)] : await index.searchBatch(rows.subarray(0, searched.length * dims), options);
    searched.forEach((i, j) => {
      const hits = results[j] ?? [];
      answers[i] = { hits };
      cache?.set(keys[i] as string, hits);
    });
  }
  return answers as QueryAnswer[];
}

/**
 * Registers the search routes.
 * @param app - the fastify instance.
 * @param ctx - the server state.
 */
export function registerSearchRoutes(app: FastifyInstance, ctx: ServeContext): void {
  app.post<{ Params: { name: string }; Body: SearchBody }>('/v1/indexes/:name/search', { schema: { body: kSearchSchema } }, async (request) => {
    const slot = slotOf(ctx, request.params.name);
    const body = request.body;
    const field = queryField(body as Record<string, unknown>, ['query', 'queries', 'vector', 'vectors']);
    const items = body.queries?.length ?? body.vectors?.length ?? 1;
    const { answers, version } = await ctx.admission.run(items, field, () => slot.read(async (index, scope, version) => ({ answers: await answerQueries(ctx, slot, index, scope, body, field), version })));
    if (field === 'query' || field === 'vector') {
      const a = answers[0];
      if (a === undefined || 'error' in a) throw new HttpError(400, 'invalid_value', a?.error.message ?? 'no answer', field);
      return { hits: a.hits, version };
    }
    return { results: answers, version };
  });

  app.post<{ Params: { name: string }; Body: RetrieveAllBody }>('/v1/indexes/:name/retrieve-all', { schema: { body: kRetrieveAllSchema } }, async (request) => {
    const slot = slotOf(ctx, request.params.name);
    const body = request.body;
    const field = queryField(body as unknown as Record<string, unknown>, ['query', 'vector']);
    return ctx.admission.run(1, field, () =>
      slot.read(async (index, _scope, version) => {
        const modeOptions = { ...(body.mode !== undefined ? { mode: body.mode } : {}), ...(body.fusion !== undefined ? { fusion: body.fusion } : {}) };
        let q: Float32Array | string;
        if (body.query !== undefined && body.mode !== 'vector') q = body.query;
        else if (body.query !== undefined) {
          const embedded = await embedQueries(ctx, [body.query]);
          const failure = embedded.failures[0];
          if (failure !== undefined) throw new HttpError(400, 'invalid_value', `query cannot be embedded: ${failure}`, 'query');
          q = embedded.vectors;
        } else q = checkDims(index, body.vector ?? [], 'vector');
        let results: Record<string, Hit[]>;
        try {
          results = await index.retrieveAll(q, { namespaces: body.namespaces, ...modeOptions, ...(body.ef !== undefined ? { ef: body.ef } : {}), ...(body.filter !== undefined ? { filter: body.filter } : {}) });
        } catch (error) {
          if (typeof q === 'string' && (error instanceof RangeError || error instanceof TypeError || (error as { code?: unknown }).code === 'ERR_INVALID_INPUT')) throw new HttpError(400, 'invalid_value', `query cannot be answered: ${(error as Error).message}`, 'query');
          throw error;
        }
        return { results, version };
      }),
    );
  });
}
