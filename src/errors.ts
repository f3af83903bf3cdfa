/**
 * Error codes vecforge raises. Callers branch on `error.code`, never on
 * message text.
 */
export type VecforgeErrorCode =
  | 'ERR_INVALID_OPTION'
  | 'ERR_INVALID_INPUT'
  | 'ERR_ABORTED'
  | 'ERR_CLOSED'
  | 'ERR_WORKER'
  | 'ERR_BACKEND'
  | 'ERR_MODEL'
  | 'ERR_CACHE'
  | 'ERR_CONFIG'
  | 'ERR_NATIVE'
  | 'ERR_INDEX'
  | 'ERR_INDEX_CORRUPT'
  | 'ERR_INDEX_VERSION'
  | 'ERR_LOCKED'
  | 'ERR_IO'
  | 'ERR_PCA';

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
  readonly code: string;
  readonly message: string;
}

/**
 * Flattens an error for postMessage, which drops classes.
 * @param error - anything thrown.
 * @returns its code (or `ERR_WORKER`) and message.
 */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof VecforgeError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { code: 'ERR_WORKER', message: error.message };
  return { code: 'ERR_WORKER', message: String(error) };
}

/**
 * Rebuilds a {@link VecforgeError} from its serialized form.
 * @param error - the `{ code, message }` a worker replied with.
 * @returns a VecforgeError with the same code and message.
 */
export function deserializeError(error: SerializedError): VecforgeError {
  return new VecforgeError(error.code as VecforgeErrorCode, error.message);
}

/**
 * Returns a message for any thrown value.
 * @param error - anything thrown.
 * @returns its message.
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
