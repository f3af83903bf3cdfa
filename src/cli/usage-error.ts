/**
 * The one marker of a command-line or configuration mistake: only these
 * errors exit 2 (see exit-codes.ts). Anything else that escapes a command,
 * a TypeError or RangeError from deep code included, is an internal or
 * data failure and exits 1.
 */
import { VecforgeError } from '../errors.js';

/** A wrong command line or configuration: an unknown flag, a value out of range, a missing or conflicting option. */
export class UsageError extends VecforgeError {
  /**
   * @param message - names the flag or key and what it takes.
   * @param options - `cause`, the validation error it replaces, if any.
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_USAGE', message, options);
    this.name = 'UsageError';
  }
}

/**
 * Marks a validation error of the configuration as a usage error.
 * @param error - what config validation threw.
 * @returns a {@link UsageError} with the same message for a TypeError or RangeError (the validators' classes), else the error itself.
 */
export function asUsageError(error: unknown): unknown {
  return error instanceof TypeError || error instanceof RangeError ? new UsageError(error.message, { cause: error }) : error;
}

/**
 * Whether an error is a command-line or configuration mistake (exit 2).
 * @param error - anything thrown.
 * @returns true for a {@link UsageError} or an unreadable config file (ERR_CONFIG).
 */
export function isUsageError(error: unknown): error is VecforgeError {
  return error instanceof VecforgeError && (error.code === 'ERR_USAGE' || error.code === 'ERR_CONFIG');
}
