/**
 * Every error code vecforge raises. Callers branch on `error.code`, never on
 * message text.
 */
export const kErrorCodes = Object.freeze([
  'ERR_INVALID_OPTION',
  'ERR_INVALID_INPUT',
  'ERR_ABORTED',
  'ERR_CLOSED',
  'ERR_WORKER',
  'ERR_BACKEND',
  'ERR_MODEL',
  'ERR_CACHE',
  'ERR_CONFIG',
  'ERR_NATIVE',
  'ERR_INDEX',
  'ERR_INDEX_CORRUPT',
  'ERR_INDEX_VERSION',
  'ERR_LOCKED',
  'ERR_CONFLICT',
  'ERR_IO',
  'ERR_PCA',
  'ERR_USAGE',
  'ERR_PROVIDER',
  'ERR_PROVIDER_UNAVAILABLE',
] as const);

/** One of {@link kErrorCodes}. */
export type VecforgeErrorCode = (typeof kErrorCodes)[number];

/** Base class of every error vecforge throws on purpose. */
export class VecforgeError extends Error {
  /** A stable, string-literal code to branch on. */
  readonly code: VecforgeErrorCode;

  /**
   * @param code - the stable error code.
   * @param message - a message that names the problem.
   * @param options - `cause`, the underlying error, if any.
   */
  constructor(code: VecforgeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VecforgeError';
    this.code = code;
  }
}

/**
 * The error a cancelled operation rejects with. Its `cause` is the abort
 * reason of the signal.
 */
export class AbortError extends VecforgeError {
  /** @param reason - the signal's `reason`. */
  constructor(reason?: unknown) {
    super('ERR_ABORTED', 'The operation was aborted', { cause: reason });
    this.name = 'AbortError';
  }
}

/**
 * Throws an {@link AbortError} when `signal` is already aborted.
 * @param signal - the signal to check.
 * @throws {AbortError} when aborted.
 */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new AbortError(signal.reason);
}

/** The plain shape an error takes when it crosses a thread boundary. */
export interface SerializedError {
  /** The VecforgeError's code; `ERR_WORKER` for any other error. */
  readonly code: VecforgeErrorCode;
  readonly message: string;
  /** The error's class name: `TypeError` and `RangeError` are rebuilt as such. */
  readonly name: string;
  /** The stack where it was thrown, in the worker. */
  readonly stack?: string;
}

/**
 * Flattens an error for postMessage, which drops classes and own fields
 * such as `code`.
 * @param error - anything thrown.
 * @returns its code (or `ERR_WORKER`), message, name and stack.
 */
export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { code: 'ERR_WORKER', message: String(error), name: 'Error' };
  const code = error instanceof VecforgeError ? error.code : 'ERR_WORKER';
  return error.stack === undefined ? { code, message: error.message, name: error.name } : { code, message: error.message, name: error.name, stack: error.stack };
}

/**
 * Rebuilds an error from its serialized form: a TypeError or RangeError
 * (an argument error, which retrying cannot fix) as that class, anything
 * else as a {@link VecforgeError} with the same code (`ERR_WORKER` for a
 * code this version does not know).
 * @param error - the `{ code, message, name, stack }` a worker replied with.
 * @returns the rebuilt error, its stack the worker's.
 */
export function deserializeError(error: SerializedError): Error {
  let rebuilt: Error;
  if (error.code === 'ERR_WORKER' && error.name === 'TypeError') rebuilt = new TypeError(error.message);
  else if (error.code === 'ERR_WORKER' && error.name === 'RangeError') rebuilt = new RangeError(error.message);
  else rebuilt = new VecforgeError((kErrorCodes as readonly string[]).includes(error.code) ? error.code : 'ERR_WORKER', error.message);
  if (error.stack !== undefined) rebuilt.stack = error.stack;
  return rebuilt;
}

/**
 * Waits for every promise, then rejects when any did: with its error when
 * one failed, with an AggregateError of all of them when several did (so
 * concurrent failures are not reduced to whichever came first).
 * @param promises - the concurrent tasks.
 * @param what - names the tasks in the AggregateError's message.
 * @returns the values, in order.
 * @throws {AggregateError} when more than one task failed.
 */
export async function settleAll<T>(promises: ReadonlyArray<Promise<T>>, what: string): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const errors = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} of ${promises.length} ${what} failed: ${errorMessage(errors[0])}`);
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/**
 * Returns a message for any thrown value.
 * @param error - anything thrown.
 * @returns its message.
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
