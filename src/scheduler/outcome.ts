/**
 * Per-item outcomes of embedding, as a union on `state`.
 */

/** Why an item failed. */
export type ItemFailureCode =
  | 'NOT_A_STRING'
  | 'EMPTY'
  | 'TOO_LARGE'
  | 'MALFORMED_UTF16'
  | 'NO_KNOWN_WORDS'
  | 'WORKER_FAILED'
  | 'PROVIDER_REJECTED';

/** The item's row holds its vector. */
export interface ItemOk {
  readonly state: 'ok';
  /** Present (true) when the text was cut to the model's maximum sequence length. */
  readonly truncated?: true;
}

/** The item's row is zero; `reason` says why. */
export interface ItemFailed {
  readonly state: 'failed';
  readonly code: ItemFailureCode;
  readonly reason: string;
}

/** One item's outcome. */
export type ItemOutcome = ItemOk | ItemFailed;

const kNonSpace = /\S/;

/** The shared ok outcome (frozen, so one object serves every item). */
export const kItemOkOutcome: ItemOk = Object.freeze({ state: 'ok' });

/** The ok outcome of a text cut to the model's maximum sequence length (frozen, shared). */
export const kItemTruncatedOutcome: ItemOk = Object.freeze({ state: 'ok', truncated: true });

/** The outcome of a text with a lone UTF-16 surrogate (frozen, shared). */
export const kMalformed: ItemFailed = Object.freeze({ state: 'failed', code: 'MALFORMED_UTF16', reason: 'text contains a lone UTF-16 surrogate' });

/**
 * Checks one input text.
 * @param text - the item as given.
 * @param maxTextBytes - the byte cap.
 * @returns a failure, or undefined when the text may be embedded.
 */
export function validateText(text: unknown, maxTextBytes: number): ItemFailed | undefined {
  if (typeof text !== 'string') {
    return { state: 'failed', code: 'NOT_A_STRING', reason: `text must be a string, got ${text === null ? 'null' : typeof text}` };
  }
  // Most texts start with a visible character; only the rest pay for a scan.
  if (text.length === 0 || (text.charCodeAt(0) <= 32 && !kNonSpace.test(text))) return { state: 'failed', code: 'EMPTY', reason: 'text is empty' };
  // A UTF-8 byte is at most one UTF-16 unit, so short strings skip the count.
  if (text.length * 3 > maxTextBytes) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > maxTextBytes) {
      return { state: 'failed', code: 'TOO_LARGE', reason: `text is ${bytes} bytes, over the limit of ${maxTextBytes} (options.maxTextBytes)` };
    }
  }
  if (!text.isWellFormed()) return kMalformed;
  return undefined;
}
