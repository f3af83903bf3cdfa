/**
 * `POST /v1/embeddings`: the OpenAI embeddings protocol. `input` is a string
 * or an array of strings; `encoding_format` is `float` (numbers) or
 * `base64` (little-endian float32 bytes); `dimensions` is accepted only
 * when it equals the model's. Concurrent requests share pool batches
 * through the engine's micro-batching.
 */
import type { FastifyInstance } from 'fastify';
import { type ServeContext, HttpError } from './context.js';

/** The longest input array (OpenAI's own limit). */
export const kMaxEmbeddingInputs = 2048;

const kBodySchema = {
  type: 'object',
  required: ['input'],
  properties: {
    input: { type: ['string', 'array'], minLength: 1, minItems: 1, maxItems: kMaxEmbeddingInputs, items: { type: 'string', minLength: 1 } },
    model: { type: 'string' },
    encoding_format: { type: 'string', enum: ['float', 'base64'] },
    dimensions: { type: 'integer', minimum: 1 },
    user: { type: 'string' },
  },
} as const;

interface EmbeddingsBody {
  readonly input: string | string[];
  readonly model?: string;
  readonly encoding_format?: 'float' | 'base64';
  readonly dimensions?: number;
}

/**
 * Tokens reported in `usage`: whitespace-separated words, the unit the
 * word-vector model reads (a neural model's word pieces are not counted).
 * @param text - a text.
 * @returns its words.
 */
function wordCount(text: string): number {
  return text.match(/\S+/g)?.length ?? 0;
}

/**
 * A vector as OpenAI's base64 encoding: its float32 bytes, little-endian.
 * @param v - the vector.
 * @returns the base64 text.
 */
export function base64Vector(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

/**
 * Registers the route.
 * @param app - the fastify instance.
 * @param ctx - the server state.
 */
export function registerEmbeddingRoutes(app: FastifyInstance, ctx: ServeContext): void {
  app.post<{ Body: EmbeddingsBody }>('/v1/embeddings', { schema: { body: kBodySchema } }, async (request) => {
    const body = request.body;
    if (body.model !== undefined && body.model !== ctx.model) {
      throw new HttpError(400, 'model_not_found', `model must be ${JSON.stringify(ctx.model)}, the model this server runs; got ${JSON.stringify(body.model)}`, 'model');
    }
    if (body.dimensions !== undefined && body.dimensions !== ctx.dims) {
      throw new HttpError(400, 'invalid_value', `dimensions must equal the model's ${ctx.dims}, got ${body.dimensions}: this server does not shorten vectors`, 'dimensions');
    }
    const texts = typeof body.input === 'string' ? [body.input] : body.input;
    const result = await ctx.admission.run(texts.length, 'input', () => {
      ctx.metrics.batchTexts.observe({ kind: 'embeddings' }, texts.length);
      return ctx.engine.embed(texts);
    });
    const failedAt = result.items.findIndex((item) => item.state === 'failed');
    if (failedAt !== -1) {
      const item = result.items[failedAt];
      const reason = item !== undefined && item.state === 'failed' ? `${item.reason} (${item.code})` : 'failed';
      const param = typeof body.input === 'string' ? 'input' : `input[${failedAt}]`;
      throw new HttpError(400, 'invalid_value', `${param} cannot be embedded: ${reason}`, param);
    }
    const dims = ctx.dims;
    const base64 = body.encoding_format === 'base64';
    const data = texts.map((_, i) => {
      const v = result.vectors.subarray(i * dims, (i + 1) * dims);
      return { object: 'embedding', index: i, embedding: base64 ? base64Vector(v) : Array.from(v) };
    });
    const tokens = texts.reduce((n, t) => n + wordCount(t), 0);
    return { object: 'list', data, model: ctx.model, usage: { prompt_tokens: tokens, total_tokens: tokens } };
  });
}
