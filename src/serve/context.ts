/**
 * What every route handler shares, and the error a handler throws to
 * answer with a status and the request field at fault.
 */
import type { Engine, Hit, SearchCache } from '../index.js';
import type { Admission } from './admission.js';
import type { IndexSlot } from './index-slot.js';
import type { ServerMetrics } from './metrics.js';
import type { ResolvedServeOptions } from './options.js';

/** The server's shared state. */
export interface ServeContext {
  readonly engine: Engine;
  readonly options: ResolvedServeOptions;
  readonly admission: Admission;
  readonly slots: ReadonlyMap<string, IndexSlot>;
  /** The result cache; null with `cacheSize: 0`. */
  readonly cache: SearchCache<Hit[]> | null;
  readonly metrics: ServerMetrics;
  /** The model name the engine serves, and its dims. */
  readonly model: string;
  readonly dims: number;
}

/** A request the server answers with `status` and an OpenAI-style error body. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  /** The request field at fault (`input[3]`, `k`), or null. */
  readonly param: string | null;
  /** A short machine-readable code. */
  readonly code: string;

  /**
   * @param status - the HTTP status.
   * @param code - a short code (`invalid_value`, `not_found`).
   * @param message - names the problem and the field.
   * @param param - the field, if any.
   */
  constructor(status: number, code: string, message: string, param: string | null = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param;
  }
}

/**
 * The slot of an index named in a URL.
 * @param ctx - the server state.
 * @param name - the name.
 * @returns the slot.
 * @throws {HttpError} 404 when no index has that name.
 */
export function slotOf(ctx: ServeContext, name: string): IndexSlot {
  const slot = ctx.slots.get(name);
  if (slot === undefined) throw new HttpError(404, 'index_not_found', `no index named ${JSON.stringify(name)}; served: ${[...ctx.slots.keys()].join(', ') || 'none'}`, 'name');
  return slot;
}
