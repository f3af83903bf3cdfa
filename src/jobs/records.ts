/**
 * Turns a source record (a parsed JSON object, a CSV row, an object of an
 * iterable) into a job item: id, text, namespace, metadata and the text's
 * content hash; or into a per-item failure with a code and a reason.
 */
import { kDefaultNamespace } from '../index/options.js';
import { contentHash } from '../store/record.js';

/** Field names a job reads items from. */
export interface FieldNames {
  readonly id: string;
  readonly text: string;
  readonly namespace: string;
  readonly metadata: string;
}

/** Limits a job checks before embedding. */
export interface ItemLimits {
  /** The engine's maxTextBytes. */
  readonly maxTextBytes: number;
  /** Characters of the text kept in `metadata._snippet` (0: none). */
  readonly snippetChars: number;
}

/** Why an item failed, as written to errors.jsonl. */
export type JobFailureCode =
  | 'MALFORMED_LINE'
  | 'MALFORMED_RECORD'
  | 'INVALID_UTF8'
  | 'CSV_COLUMNS'
  | 'MISSING_ID'
  | 'INVALID_ID'
  | 'MISSING_TEXT'
  | 'DUPLICATE_ID'
  | 'EMPTY'
  | 'TOO_LARGE'
  | 'MALFORMED_UTF16'
  | 'INVALID_NAMESPACE'
  | 'INVALID_METADATA'
  | 'NO_KNOWN_WORDS'
  | 'NOT_A_STRING'
  | 'WORKER_FAILED'
  | 'INDEX_FAILED';

/** One item ready for embedding. */
export interface JobItem {
  readonly line: number;
  readonly id: string;
  readonly text: string;
  /** contentHash(text): the embedding cache key and the change detector. */
  readonly hash: string;
  readonly namespace: string;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** A conversion outcome. */
export type ItemConversion =
  | { readonly state: 'ok'; readonly item: JobItem }
  | { readonly state: 'failed'; readonly id: string | null; readonly code: JobFailureCode; readonly reason: string };

/** The metadata key holding the text snippet. */
export const kSnippetKey = '_snippet';
/** The namespace of items that name none (the index's). */
export { kDefaultNamespace };
const kMaxIdBytes = 1024;
const kMaxNamespaceChars = 256;

/**
 * Reads the id of a record, the first thing checked: a record whose id is
 * known counts as seen (for duplicate detection) whatever else is wrong.
 * @param value - the record.
 * @param field - the id field name.
 * @returns the id, or a failure.
 */
export function readId(value: Readonly<Record<string, unknown>>, field: string): { id: string } | { id: null; code: JobFailureCode; reason: string } {
  const raw = value[field];
  if (raw === undefined || raw === null || raw === '') return { id: null, code: 'MISSING_ID', reason: `missing "${field}"` };
  let id: string;
  if (typeof raw === 'string') id = raw;
  else if (typeof raw === 'number' && Number.isSafeInteger(raw)) id = String(raw);
  else return { id: null, code: 'INVALID_ID', reason: `"${field}" must be a string or an integer, got ${Array.isArray(raw) ? 'an array' : typeof raw}` };
  if (Buffer.byteLength(id, 'utf8') > kMaxIdBytes) return { id: null, code: 'INVALID_ID', reason: `"${field}" is over ${kMaxIdBytes} bytes` };
  if (!id.isWellFormed()) return { id: null, code: 'INVALID_ID', reason: `"${field}" contains a lone UTF-16 surrogate` };
  return { id };
}

/**
 * Converts a record whose id was read into an item.
 * @param value - the record.
 * @param id - its id.
 * @param line - its line.
 * @param names - field names.
 * @param limits - size limits.
 * @param csv - true for CSV rows: every other column becomes metadata.
 * @returns the item or a failure.
 */
export function toItem(value: Readonly<Record<string, unknown>>, id: string, line: number, names: FieldNames, limits: ItemLimits, csv: boolean): ItemConversion {
  const text = value[names.text];
  if (text === undefined || text === null) return { state: 'failed', id, code: 'MISSING_TEXT', reason: `missing "${names.text}"` };
  if (typeof text !== 'string') return { state: 'failed', id, code: 'NOT_A_STRING', reason: `"${names.text}" must be a string, got ${Array.isArray(text) ? 'an array' : typeof text}` };
  if (isBlank(text)) return { state: 'failed', id, code: 'EMPTY', reason: 'text is empty' };
  // A UTF-8 byte is at most one UTF-16 unit, so short strings skip the count.
  if (text.length * 3 > limits.maxTextBytes) {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > limits.maxTextBytes) return { state: 'failed', id, code: 'TOO_LARGE', reason: `text is ${bytes} bytes, over the limit of ${limits.maxTextBytes} (engine.maxTextBytes)` };
  }
  if (!text.isWellFormed()) return { state: 'failed', id, code: 'MALFORMED_UTF16', reason: 'text contains a lone UTF-16 surrogate' };
  const rawNs = value[names.namespace];
  let namespace = kDefaultNamespace;
  if (rawNs !== undefined && rawNs !== null && rawNs !== '') {
    if (typeof rawNs !== 'string' || rawNs.length > kMaxNamespaceChars) {
      return { state: 'failed', id, code: 'INVALID_NAMESPACE', reason: `"${names.namespace}" must be a string of at most ${kMaxNamespaceChars} characters` };
    }
    namespace = rawNs;
  }
  let metadata: Record<string, unknown>;
  if (csv) {
    metadata = {};
    for (const [key, v] of Object.entries(value)) if (key !== names.id && key !== names.text && key !== names.namespace) metadata[key] = v;
  } else {
    const rawMeta = value[names.metadata];
    if (rawMeta === undefined || rawMeta === null) metadata = {};
    else if (typeof rawMeta !== 'object' || Array.isArray(rawMeta)) {
      return { state: 'failed', id, code: 'INVALID_METADATA', reason: `"${names.metadata}" must be an object` };
    } else metadata = { ...(rawMeta as Record<string, unknown>) };
  }
  if (limits.snippetChars > 0) metadata[kSnippetKey] = snippet(text, limits.snippetChars);
  return { state: 'ok', item: { line, id, text, hash: contentHash(text), namespace, metadata } };
}

/** `text.trim() === ''` without building the trimmed copy (texts rarely start with whitespace). */
function isBlank(text: string): boolean {
  const first = text.charCodeAt(0);
  // Above the space, and not one of the Unicode spaces (U+00A0 and up): not blank.
  if (first > 0x20 && first < 0xa0) return false;
  return text.trim() === '';
}

/**
 * The first `chars` characters of a text, never cutting a surrogate pair.
 * @param text - the text.
 * @param chars - UTF-16 units to keep at most.
 * @returns the snippet.
 */
export function snippet(text: string, chars: number): string {
  if (text.length <= chars) return text;
  let end = chars;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end);
}

