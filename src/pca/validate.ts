/**
 * Argument checks shared by the PCA layer's public entry points. Wrong types
 * throw TypeError, values out of range throw RangeError; messages name the
 * option and the allowed range.
 */

/** The widest row the PCA layer accepts. */
export const kMaxRowDims = 100_000;

/**
 * Checks that `value` is an integer in [min, max].
 * @param name - the option's name as the caller wrote it, e.g. `options.components`.
 * @param value - the value to check.
 * @param min - the smallest allowed value.
 * @param max - the largest allowed value.
 * @returns the value, typed as a number.
 * @throws {TypeError} when `value` is not a number.
 * @throws {RangeError} when `value` is not an integer in [min, max].
 */
export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') {
    throw new TypeError(`${name} must be an integer in [${min}, ${max}], got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

/**
 * Checks that `value` is a Float32Array holding whole rows of `dims` values.
 * @param name - the argument's name, e.g. `rows`.
 * @param value - the value to check.
 * @param dims - values per row.
 * @returns the array.
 * @throws {TypeError} when `value` is not a Float32Array.
 * @throws {RangeError} when its length is not a multiple of `dims`.
 */
export function checkRows(name: string, value: unknown, dims: number): Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new TypeError(`${name} must be a Float32Array of row-major rows, got ${describe(value)}`);
  }
  if (value.length % dims !== 0) {
    throw new RangeError(`${name}.length must be a multiple of dims (${dims}), got ${value.length}`);
  }
  return value;
}

/**
 * Checks that `value` is undefined or an AbortSignal.
 * @param name - the option's name.
 * @param value - the value to check.
 * @returns the signal, or undefined.
 * @throws {TypeError} when `value` is something else.
 */
export function checkSignal(name: string, value: unknown): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  throw new TypeError(`${name} must be an AbortSignal, got ${describe(value)}`);
}

/**
 * Names a value's type for an error message.
 * @param value - anything.
 * @returns a short description.
 */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return `${typeof value} ${String(value)}`;
}
