/**
 * The OpenAI `/v1/embeddings` wire format: the request body and a strict
 * reader of the response (float and base64 encodings, `data[i].index`
 * mapped back, every index once, equal dims).
 */

/** Why a response could not be used; the message names what was wrong. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/**
 * Builds the request body.
 * @param model - the provider's model name.
 * @param input - the texts.
 * @param dims - sent as `dimensions` when given.
 * @returns the JSON text.
 */
export function requestBody(model: string, input: readonly string[], dims: number | undefined): string {
  return JSON.stringify(dims === undefined ? { model, input, encoding_format: 'base64' } : { model, input, encoding_format: 'base64', dimensions: dims });
}

/** A decoded response. */
export interface DecodedEmbeddings {
  /** count × dims, row i for input i. */
  readonly rows: Float32Array;
  readonly dims: number;
  /** `usage.total_tokens` (else `prompt_tokens`), 0 when absent. */
  readonly tokens: number;
}

function decodeVector(embedding: unknown, at: number): Float32Array {
  if (typeof embedding === 'string') {
    const bytes = Buffer.from(embedding, 'base64');
    if (bytes.byteLength % 4 !== 0 || bytes.byteLength === 0) throw new ProtocolError(`data[${at}].embedding is base64 of ${bytes.byteLength} bytes, not a whole number of float32 values`);
    // Copied: a Buffer's offset need not be 4-aligned.
    const v = new Float32Array(bytes.byteLength / 4);
    new Uint8Array(v.buffer).set(bytes);
    return v;
  }
  if (Array.isArray(embedding)) {
    const v = new Float32Array(embedding.length);
    for (let d = 0; d < embedding.length; d++) {
      const x = embedding[d] as unknown;
      if (typeof x !== 'number') throw new ProtocolError(`data[${at}].embedding[${d}] is not a number`);
      v[d] = x;
    }
    return v;
  }
  throw new ProtocolError(`data[${at}].embedding is neither a float array nor a base64 string`);
}

/**
 * Reads a response body.
 * @param text - the body.
 * @param count - how many inputs the request had.
 * @param dims - the expected dims, or undefined to take the first vector's.
 * @returns the rows in input order.
 * @throws {ProtocolError} naming what is wrong.
 */
export function decodeEmbeddings(text: string, count: number, dims: number | undefined): DecodedEmbeddings {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ProtocolError('the response is not JSON');
  }
  const data = body !== null && typeof body === 'object' ? (body as { data?: unknown }).data : undefined;
  if (!Array.isArray(data)) throw new ProtocolError('the response has no "data" array');
  if (data.length !== count) throw new ProtocolError(`the response has ${data.length} embeddings for ${count} inputs`);
  let width = dims;
  let rows: Float32Array | undefined;
  const seen = new Uint8Array(count);
  for (let k = 0; k < count; k++) {
    const entry = data[k] as unknown;
    if (entry === null || typeof entry !== 'object') throw new ProtocolError(`data[${k}] is not an object`);
    const rawIndex = (entry as { index?: unknown }).index ?? k;
    if (typeof rawIndex !== 'number' || !Number.isInteger(rawIndex) || rawIndex < 0 || rawIndex >= count) {
      throw new ProtocolError(`data[${k}].index is ${JSON.stringify(rawIndex)}, not an input index in [0, ${count - 1}]`);
    }
    if (seen[rawIndex] === 1) throw new ProtocolError(`input ${rawIndex} came back more than once`);
    seen[rawIndex] = 1;
    const v = decodeVector((entry as { embedding?: unknown }).embedding, k);
    width ??= v.length;
    if (v.length !== width) throw new ProtocolError(`data[${k}].embedding has ${v.length} dims, expected ${width}`);
    for (let d = 0; d < v.length; d++) if (!Number.isFinite(v[d])) throw new ProtocolError(`data[${k}].embedding[${d}] is not finite`);
    rows ??= new Float32Array(count * width);
    rows.set(v, rawIndex * width);
  }
  const usage = (body as { usage?: { total_tokens?: unknown; prompt_tokens?: unknown } }).usage;
  const t = usage?.total_tokens ?? usage?.prompt_tokens;
  return { rows: rows ?? new Float32Array(0), dims: width ?? 0, tokens: typeof t === 'number' && Number.isFinite(t) ? t : 0 };
}

/**
 * The message of an error response (`{ error: { message } }`), else the
 * start of the body.
 * @param text - the body.
 * @returns at most 300 characters.
 */
export function errorText(text: string): string {
  let message: string = text;
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof body.error === 'string' ? body.error : (body.error?.message ?? body.message);
    if (typeof m === 'string') message = m;
  } catch {
    // Not JSON: the body itself is the message.
  }
  message = message.trim();
  return message.length > 300 ? `${message.slice(0, 297)}...` : message;
}
