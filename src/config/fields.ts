/**
 * Helpers that build zod fields carrying the human description used in
 * validation messages ("an integer in [1, 64]"), and turn zod issues into
 * the TypeError / RangeError vecforge throws.
 */
import { z } from 'zod';

/** A zod schema with the words that describe its allowed values. */
export interface Field<T extends z.ZodType = z.ZodType> {
  readonly schema: T;
  readonly describe: string;
  readonly expectedType: 'number' | 'string' | 'boolean' | 'object';
  /** A secret (an API key): validation messages never show the value. */
  readonly secret?: boolean;
}

/**
 * An integer field in [min, max].
 * @param min - the smallest allowed value.
 * @param max - the largest allowed value.
 * @returns the field.
 */
export function intField(min: number, max: number): Field<z.ZodNumber> {
  return {
    schema: z.number().int().min(min).max(max),
    describe: `an integer in [${min}, ${max}]`,
    expectedType: 'number',
  };
}

/**
 * A finite number field in [min, max].
 * @param min - the smallest allowed value.
 * @param max - the largest allowed value.
 * @returns the field.
 */
export function numberField(min: number, max: number): Field<z.ZodNumber> {
  return {
    schema: z.number().min(min).max(max),
    describe: `a number in [${min}, ${max}]`,
    expectedType: 'number',
  };
}

/**
 * A field that takes one of a fixed list of strings.
 * @param values - the allowed values.
 * @returns the field.
 */
export function enumField<const V extends readonly [string, ...string[]]>(values: V): Field<z.ZodEnum<{ [K in V[number]]: K }>> {
  return {
    schema: z.enum(values),
    describe: `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`,
    expectedType: 'string',
  };
}

/**
 * A non-empty string field.
 * @returns the field.
 */
export function stringField(): Field<z.ZodString> {
  return { schema: z.string().min(1), describe: 'a non-empty string', expectedType: 'string' };
}

/**
 * A boolean field.
 * @returns the field.
 */
export function booleanField(): Field<z.ZodBoolean> {
  return { schema: z.boolean(), describe: 'a boolean', expectedType: 'boolean' };
}

const kDecimal = /^-?\d+(?:\.\d+)?$/;

/**
 * Parses a number written in decimal, the only form accepted from strings
 * (flags, environment variables, config files): `0x2`, `1e3`, ` 2`,
 * `Infinity` and the empty string are refused rather than read as numbers.
 * @param raw - the text.
 * @returns the number, or undefined when `raw` is not plain decimal.
 */
export function parseDecimal(raw: string): number | undefined {
  return kDecimal.test(raw) ? Number(raw) : undefined;
}

/** A map of option names to fields. */
export type FieldMap = Readonly<Record<string, Field>>;

/** The zod object type built from a field map. */
export type SchemaOf<M extends FieldMap> = z.ZodObject<{ [K in keyof M]: M[K]['schema'] }>;

/**
 * Builds a strict zod object from a field map.
 * @param fields - the field map.
 * @returns the strict zod object schema.
 */
export function objectOf<M extends FieldMap>(fields: M): SchemaOf<M> {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(fields)) shape[key] = field.schema;
  return z.object(shape).strict() as unknown as SchemaOf<M>;
}

/**
 * Formats a value for a message: strings quoted, the rest as JSON.
 * @param value - any value.
 * @returns a short printable form.
 */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * Validates `input` against a field map and returns the parsed value, or
 * throws the error STYLE.md asks for: TypeError for a wrong type, RangeError
 * for a value out of range, naming the option and the allowed values.
 * @param fields - the field map.
 * @param input - the options object given by the caller.
 * @param prefix - how the object is named in messages, e.g. `options`.
 * @returns the parsed, typed object.
 * @throws {TypeError} for a wrong type or an unknown key.
 * @throws {RangeError} for a value out of range.
 */
export function parseFields<M extends FieldMap>(fields: M, input: unknown, prefix: string): Partial<z.infer<SchemaOf<M>>> {
  if (input === undefined) input = {};
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new TypeError(`${prefix} must be an object, got ${formatValue(input)}`);
  }
  const record = input as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!(key in fields)) {
      throw new TypeError(`${prefix}.${key} is not a known option; known options: ${Object.keys(fields).join(', ')}`);
    }
  }
  for (const [key, field] of Object.entries(fields)) {
    const value = record[key];
    if (value === undefined) continue;
    const result = field.schema.safeParse(value);
    if (result.success) continue;
    const typeMatches = field.expectedType === 'object' ? typeof value === 'object' && value !== null : typeof value === field.expectedType;
    const message = `${prefix}.${key} must be ${field.describe}, got ${field.secret === true ? `a ${typeof value} (not shown: a secret)` : formatValue(value)}`;
    throw typeMatches ? new RangeError(message) : new TypeError(message);
  }
  return objectOf(fields).partial().parse(stripUndefined(record)) as z.infer<SchemaOf<M>>;
}

function stripUndefined(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value;
  return out;
}
