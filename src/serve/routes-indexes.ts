/**
 * Index routes: the list and stats, writes with per-item outcomes, and the
 * save that publishes them. A write is applied to the served version at
 * once (searches see it) and reported `pending` until a save publishes it,
 * on `POST …/save` or on the save interval; a pending write survives a
 * switch to a version another process published (it is re-applied).
 */
import type { FastifyInstance } from 'fastify';
import type { IndexItem, IndexItemOutcome } from '../index.js';
import { type ServeContext, HttpError, slotOf } from './context.js';
import type { IndexSlot } from './index-slot.js';

/** The most documents (or ids) one write request holds. */
export const kMaxWriteItems = 10_000;

const kUpsertSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['documents'],
  // Items are checked by the index one by one: one bad item fails alone.
  properties: { documents: { type: 'array', minItems: 1, maxItems: kMaxWriteItems, items: { type: 'object' } } },
} as const;

const kDeleteSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['ids'],
  properties: { ids: { type: 'array', minItems: 1, maxItems: kMaxWriteItems } },
} as const;

/** One outcome of a write, as the server reports it. */
type WriteOutcome = { readonly id: string; readonly state: 'pending' } | { readonly id: string | null; readonly state: 'failed'; readonly code: string; readonly reason: string };

function reported(outcomes: readonly IndexItemOutcome[]): WriteOutcome[] {
  return outcomes.map((o) => (o.state === 'ok' ? { id: o.id, state: 'pending' } : { id: o.id, state: 'failed', code: o.code, reason: o.reason }));
}

/**
 * What the server reports of an index.
 * @param slot - the index.
 * @returns name, version, counts, parameters, pending writes and reloads.
 */
export function describeSlot(slot: IndexSlot): Record<string, unknown> {
  const { version, count, deleted, dims, space, capacity, params, namespaces, core, pca, searchCache: _cache } = slot.stats();
  return { name: slot.name, version, count, deleted, dims, space, capacity, params, namespaces, core, pca, pendingWrites: slot.pendingCount, reloads: slot.reloads };
}

/**
 * Registers the index routes.
 * @param app - the fastify instance.
 * @param ctx - the server state.
 */
export function registerIndexRoutes(app: FastifyInstance, ctx: ServeContext): void {
  app.get('/v1/indexes', async () => ({ indexes: [...ctx.slots.values()].map(describeSlot) }));

  app.get<{ Params: { name: string } }>('/v1/indexes/:name', async (request) => describeSlot(slotOf(ctx, request.params.name)));

  app.post<{ Params: { name: string }; Body: { documents: IndexItem[] } }>('/v1/indexes/:name/documents', { schema: { body: kUpsertSchema } }, async (request) => {
    const slot = slotOf(ctx, request.params.name);
    const documents = request.body.documents;
    const texts = documents.filter((d) => typeof d.text === 'string').length;
    if (texts > 0) ctx.metrics.batchTexts.observe({ kind: 'documents' }, texts);
    const outcomes = await ctx.admission.run(documents.length, 'documents', () => slot.upsert(documents));
    return { results: reported(outcomes), version: slot.version, pendingWrites: slot.pendingCount };
  });

  app.delete<{ Params: { name: string }; Body: { ids: unknown[] } }>('/v1/indexes/:name/documents', { schema: { body: kDeleteSchema } }, async (request) => {
    const slot = slotOf(ctx, request.params.name);
    // Not a string: the index fails that id alone (INVALID_ID).
    const outcomes = await ctx.admission.run(request.body.ids.length, 'ids', () => slot.delete(request.body.ids as string[]));
    return { results: reported(outcomes), version: slot.version, pendingWrites: slot.pendingCount };
  });

  app.post<{ Params: { name: string } }>('/v1/indexes/:name/save', async (request) => {
    const slot = slotOf(ctx, request.params.name);
    try {
      const result = await slot.save();
      ctx.metrics.saves.inc({ index: slot.name, outcome: result.saved > 0 ? 'saved' : 'nothing' });
      return { ...result, pendingWrites: slot.pendingCount };
    } catch (error) {
      ctx.metrics.saves.inc({ index: slot.name, outcome: 'failed' });
      if (error instanceof Error && 'code' in error && error.code === 'ERR_LOCKED') {
        throw new HttpError(409, 'locked', `index ${slot.name} is locked by a job; its ${slot.pendingCount} writes stay pending and are saved later`);
      }
      throw error;
    }
  });
}
