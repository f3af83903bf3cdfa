/**
 * BERT's tokenizer: the basic tokenizer (clean control characters and
 * whitespace, CJK characters as their own tokens, lower-casing and accent
 * stripping when configured, punctuation split) then WordPiece (greedy
 * longest match, `##` continuations, the unknown token for a word with no
 * match or over 100 characters), with [CLS] … [SEP] and truncation.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { VecforgeError } from '../../errors.js';
import { readJsonObject } from './config.js';

/** Everything a worker needs to tokenise; structured-clonable. */
export interface WordPieceSpec {
  /** Token strings by id (holes are empty strings). */
  readonly vocab: readonly string[];
  readonly lowerCase: boolean;
  readonly stripAccents: boolean;
  readonly chineseChars: boolean;
  readonly cleanText: boolean;
  readonly prefix: string;
  readonly maxInputChars: number;
  readonly unk: string;
  readonly cls: string;
  readonly sep: string;
  readonly pad: string;
  /**
   * Tokens kept whole wherever they appear in a text, as Hugging Face
   * tokenizers keep special and added tokens: matched before the basic
   * tokenizer runs, case-sensitively on the raw text, or on the lower-cased
   * text for a token marked `normalized` when the model lower-cases.
   */
  readonly added?: readonly AddedToken[];
}

/** A token kept whole (see {@link WordPieceSpec.added}). */
export interface AddedToken {
  readonly content: string;
  readonly id: number;
  /** Matched after normalisation (lower-casing) rather than on the raw text. */
  readonly normalized: boolean;
}

/** One tokenised text. */
export interface Encoding {
  /** [CLS] … [SEP] token ids. */
  readonly ids: Int32Array;
  /** Whether word pieces were cut to fit the maximum sequence length. */
  readonly truncated: boolean;
}

const kControl = /[\p{Cc}\p{Cf}]/u;
const kSpace = /\p{Zs}/u;
const kPunct = /\p{P}/u;
const kMark = /\p{Mn}/gu;

function isWhitespace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || kSpace.test(c);
}

function isControl(c: string): boolean {
  if (c === '\t' || c === '\n' || c === '\r') return false;
  return kControl.test(c);
}

function isPunctuation(c: string): boolean {
  const cp = c.codePointAt(0) as number;
  // BERT counts every non-letter, non-digit ASCII symbol ($, ^, `) as punctuation.
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return kPunct.test(c);
}

function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/**
 * The basic tokenizer: words and punctuation marks.
 * @param text - the text.
 * @param spec - the normalisation switches.
 * @returns the words.
 */
export function basicTokenize(text: string, spec: Pick<WordPieceSpec, 'lowerCase' | 'stripAccents' | 'chineseChars' | 'cleanText'>): string[] {
  let cleaned = '';
  for (const c of text) {
    const cp = c.codePointAt(0) as number;
    if (spec.cleanText) {
      if (cp === 0 || cp === 0xfffd || isControl(c)) continue;
      if (isWhitespace(c)) {
        cleaned += ' ';
        continue;
      }
    }
    cleaned += spec.chineseChars && isCjk(cp) ? ` ${c} ` : c;
  }
  const words: string[] = [];
  for (let word of cleaned.normalize('NFC').split(/[ \t\n\r]+/)) {
    if (word === '') continue;
    if (spec.lowerCase) word = word.toLowerCase();
    if (spec.stripAccents) word = word.normalize('NFD').replace(kMark, '');
    let current = '';
    for (const c of word) {
      if (isPunctuation(c)) {
        if (current !== '') words.push(current);
        words.push(c);
        current = '';
      } else {
        current += c;
      }
    }
    if (current !== '') words.push(current);
  }
  return words;
}

/** Tokenises texts into BERT input ids. */
export class WordPieceTokenizer {
  readonly #spec: WordPieceSpec;
  readonly #ids = new Map<string, number>();
  readonly #added: readonly AddedToken[];
  readonly #addedIds = new Map<string, number>();
  readonly #addedPatterns: Array<[RegExp, boolean]> = [];
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;

  /**
   * @param spec - vocabulary and switches.
   * @throws {VecforgeError} ERR_MODEL when a special token is not in the vocabulary.
   */
  constructor(spec: WordPieceSpec) {
    this.#spec = spec;
    spec.vocab.forEach((token, id) => {
      if (token !== '' && !this.#ids.has(token)) this.#ids.set(token, id);
    });
    const special = (token: string): number => {
      const id = this.#ids.get(token);
      if (id === undefined) throw new VecforgeError('ERR_MODEL', `the vocabulary has no special token ${JSON.stringify(token)}`);
      return id;
    };
    this.unkId = special(spec.unk);
    this.clsId = special(spec.cls);
    this.sepId = special(spec.sep);
    this.padId = this.#ids.get(spec.pad) ?? 0;
    this.#added = (spec.added ?? []).filter((t) => t.content !== '');
    const raw = this.#added.filter((t) => !(t.normalized && spec.lowerCase));
    const lowered = this.#added.filter((t) => t.normalized && spec.lowerCase);
    for (const t of raw) this.#addedIds.set(t.content, t.id);
    for (const t of lowered) this.#addedIds.set(t.content.toLowerCase(), t.id);
    // Longest first, so a token that starts another ("[MASK]" and "[MASK]x") matches whole.
    const pattern = (tokens: readonly AddedToken[], lower: boolean): RegExp =>
      new RegExp(
        [...new Set(tokens.map((t) => (lower ? t.content.toLowerCase() : t.content)))]
          .sort((a, b) => b.length - a.length)
          .map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('|'),
        'gu',
      );
    if (raw.length > 0) this.#addedPatterns.push([pattern(raw, false), false]);
    if (lowered.length > 0) this.#addedPatterns.push([pattern(lowered, true), true]);
  }

  /**
   * WordPiece tokens of a text, without [CLS]/[SEP].
   * @param text - the text.
   * @returns token strings.
   */
  tokens(text: string): string[] {
    const out: string[] = [];
    this.#pieces(text, (id) => out.push(this.#spec.vocab[id] ?? ''));
    return out;
  }

  /**
   * Encodes a text as [CLS] pieces [SEP], cut to `maxLength` ids.
   * @param text - the text.
   * @param maxLength - the maximum sequence length (≥ 3).
   * @returns the ids and whether pieces were cut.
   */
  encode(text: string, maxLength: number): Encoding {
    const ids: number[] = [this.clsId];
    const room = maxLength - 2;
    let truncated = false;
    this.#pieces(text, (id) => {
      if (ids.length - 1 < room) {
        ids.push(id);
        return true;
      }
      truncated = true;
      return false;
    });
    ids.push(this.sepId);
    return { ids: Int32Array.from(ids), truncated };
  }

  /** Calls `emit` per piece id; stops early once `emit` returns false. */
  #pieces(text: string, emit: (id: number) => unknown): void {
    if (this.#added.length === 0) {
      this.#wordPieces(text, emit);
      return;
    }
    for (const part of this.#splitAdded(text)) {
      if (typeof part === 'number') {
        if (emit(part) === false) return;
      } else if (this.#wordPieces(part, emit) === false) return;
    }
  }

  /** Splits a text into added-token ids and the text between them: raw matches first, then normalized ones in what is left. */
  #splitAdded(text: string): Array<string | number> {
    let parts: Array<string | number> = [text];
    for (const [pattern, lower] of this.#addedPatterns) {
      const next: Array<string | number> = [];
      for (const part of parts) {
        if (typeof part === 'number') {
          next.push(part);
          continue;
        }
        const haystack = lower ? part.toLowerCase() : part;
        // Lower-casing can change a string's length (İ → i̇); such a text keeps its raw form for this pass.
        const scan = haystack.length === part.length ? haystack : part;
        let last = 0;
        for (const m of scan.matchAll(pattern)) {
          const at = m.index ?? 0;
          if (at > last) next.push(part.slice(last, at));
          next.push(this.#addedIds.get(lower ? m[0].toLowerCase() : m[0]) ?? this.unkId);
          last = at + m[0].length;
        }
        if (last < part.length) next.push(part.slice(last));
      }
      parts = next;
    }
    return parts;
  }

  /** WordPiece over the basic tokenizer's words; false once `emit` asked to stop. */
  #wordPieces(text: string, emit: (id: number) => unknown): boolean {
    const { prefix, maxInputChars } = this.#spec;
    for (const word of basicTokenize(text, this.#spec)) {
      const chars = Array.from(word);
      if (chars.length > maxInputChars) {
        if (emit(this.unkId) === false) return false;
        continue;
      }
      const pieces: number[] = [];
      let start = 0;
      let bad = false;
      while (start < chars.length) {
        let end = chars.length;
        let found = -1;
        while (start < end) {
          const sub = (start > 0 ? prefix : '') + chars.slice(start, end).join('');
          const id = this.#ids.get(sub);
          if (id !== undefined) {
            found = id;
            break;
          }
          end--;
        }
        if (found < 0) {
          bad = true;
          break;
        }
        pieces.push(found);
        start = end;
      }
      if (bad) {
        if (emit(this.unkId) === false) return false;
        continue;
      }
      for (const id of pieces) if (emit(id) === false) return false;
    }
    return true;
  }
}

function specialToken(raw: Record<string, unknown> | undefined, key: string, fallback: string): string {
  const v = raw?.[key];
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return fallback;
}

/**
 * The added tokens of a vocab.txt tokenizer: its special tokens, the
 * config's `additional_special_tokens` and `added_tokens_decoder`, and
 * added_tokens.json beside vocab.txt; ids from those files or the vocabulary.
 */
function vocabAddedTokens(vocab: readonly string[], cfg: Record<string, unknown> | undefined, specials: readonly string[], addedPath: string): AddedToken[] {
  const index = new Map<string, number>();
  vocab.forEach((token, id) => {
    if (!index.has(token)) index.set(token, id);
  });
  const out = new Map<string, AddedToken>();
  const add = (content: unknown, id: unknown, normalized: unknown): void => {
    if (typeof content !== 'string' || content === '') return;
    const resolved = Number.isSafeInteger(id) && (id as number) >= 0 ? (id as number) : index.get(content);
    if (resolved !== undefined) out.set(content, { content, id: resolved, normalized: normalized === true });
  };
  for (const token of specials) add(token, undefined, false);
  const extra = cfg?.additional_special_tokens;
  if (Array.isArray(extra)) for (const t of extra) add(typeof t === 'string' ? t : (t as { content?: unknown } | null)?.content, undefined, false);
  const decoder = cfg?.added_tokens_decoder;
  if (decoder !== null && typeof decoder === 'object') {
    for (const [id, t] of Object.entries(decoder as Record<string, unknown>)) {
      const entry = t as { content?: unknown; normalized?: unknown } | null;
      add(entry?.content, Number(id), entry?.normalized);
    }
  }
  if (existsSync(addedPath)) for (const [content, id] of Object.entries(readJsonObject(addedPath))) add(content, id, false);
  return [...out.values()];
}

/**
 * Reads vocab.txt (one token a line, id = line number) and tokenizer_config.json;
 * special and added tokens are kept whole in texts (see {@link WordPieceSpec.added}).
 * @param vocabPath - vocab.txt.
 * @param configPath - tokenizer_config.json, if present.
 * @returns the spec.
 */
export function readVocabTokenizer(vocabPath: string, configPath: string | undefined): WordPieceSpec {
  const text = readFileSync(vocabPath, 'utf8');
  const vocab = text.split('\n').map((line) => line.replace(/\r$/, ''));
  if (vocab.length > 0 && vocab[vocab.length - 1] === '') vocab.pop();
  const cfg = configPath !== undefined ? readJsonObject(configPath) : undefined;
  const lowerCase = cfg?.do_lower_case !== false;
  // BERT strips accents when lower-casing unless strip_accents says otherwise.
  const stripAccents = typeof cfg?.strip_accents === 'boolean' ? cfg.strip_accents : lowerCase;
  const unk = specialToken(cfg, 'unk_token', '[UNK]');
  const cls = specialToken(cfg, 'cls_token', '[CLS]');
  const sep = specialToken(cfg, 'sep_token', '[SEP]');
  const pad = specialToken(cfg, 'pad_token', '[PAD]');
  const mask = specialToken(cfg, 'mask_token', '[MASK]');
  return {
    vocab,
    lowerCase,
    stripAccents,
    chineseChars: cfg?.tokenize_chinese_chars !== false,
    cleanText: true,
    prefix: '##',
    maxInputChars: 100,
    unk,
    cls,
    sep,
    pad,
    added: vocabAddedTokens(vocab, cfg, [unk, cls, sep, pad, mask], join(dirname(vocabPath), 'added_tokens.json')),
  };
}

/**
 * Reads a tokenizer.json whose model is WordPiece; its BertNormalizer (or a
 * sequence of Lowercase / StripAccents / NFD normalizers) decides the switches.
 * @param path - tokenizer.json.
 * @returns the spec.
 * @throws {VecforgeError} ERR_MODEL when the model is not WordPiece.
 */
export function readTokenizerJson(path: string): WordPieceSpec {
  const raw = readJsonObject(path);
  const model = raw.model as Record<string, unknown> | undefined;
  if (model?.type !== 'WordPiece') throw new VecforgeError('ERR_MODEL', `${path}: tokenizer model ${JSON.stringify(model?.type)} is not supported; supported: WordPiece`);
  const entries = model.vocab !== null && typeof model.vocab === 'object' ? Object.entries(model.vocab as Record<string, unknown>) : [];
  let size = 0;
  for (const [, id] of entries) {
    if (!Number.isSafeInteger(id) || (id as number) < 0 || (id as number) > 10_000_000) throw new VecforgeError('ERR_MODEL', `${path}: vocabulary ids must be integers in [0, 10000000]`);
    size = Math.max(size, (id as number) + 1);
  }
  const vocab = new Array<string>(size).fill('');
  for (const [token, id] of entries) vocab[id as number] = token;
  let lowerCase = true;
  let stripAccents: boolean | undefined;
  let chineseChars = true;
  let cleanText = true;
  const norm = raw.normalizer as Record<string, unknown> | null | undefined;
  if (norm?.type === 'BertNormalizer') {
    lowerCase = norm.lowercase !== false;
    stripAccents = typeof norm.strip_accents === 'boolean' ? norm.strip_accents : undefined;
    chineseChars = norm.handle_chinese_chars !== false;
    cleanText = norm.clean_text !== false;
  } else if (norm?.type === 'Sequence' && Array.isArray(norm.normalizers)) {
    const types = (norm.normalizers as Array<{ type?: unknown }>).map((n) => n.type);
    lowerCase = types.includes('Lowercase');
    stripAccents = types.includes('StripAccents');
    chineseChars = false;
    cleanText = false;
  } else if (norm === null || norm === undefined) {
    lowerCase = false;
    stripAccents = false;
    chineseChars = false;
    cleanText = false;
  }
  const unk = typeof model.unk_token === 'string' ? model.unk_token : '[UNK]';
  const added: AddedToken[] = [];
  if (Array.isArray(raw.added_tokens)) {
    for (const t of raw.added_tokens as Array<{ id?: unknown; content?: unknown; normalized?: unknown } | null>) {
      if (typeof t?.content !== 'string' || t.content === '' || !Number.isSafeInteger(t.id) || (t.id as number) < 0) {
        throw new VecforgeError('ERR_MODEL', `${path}: each of "added_tokens" needs a non-empty "content" and an integer "id" ≥ 0, got ${JSON.stringify(t)}`);
      }
      added.push({ content: t.content, id: t.id as number, normalized: t.normalized === true });
    }
  }
  const post = raw.post_processor as { cls?: unknown; sep?: unknown } | null | undefined;
  const postToken = (v: unknown, fallback: string): string => (Array.isArray(v) && typeof v[0] === 'string' ? v[0] : fallback);
  return {
    vocab,
    lowerCase,
    stripAccents: stripAccents ?? lowerCase,
    chineseChars,
    cleanText,
    prefix: typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '##',
    maxInputChars: Number.isSafeInteger(model.max_input_chars_per_word) ? (model.max_input_chars_per_word as number) : 100,
    unk,
    cls: postToken(post?.cls, '[CLS]'),
    sep: postToken(post?.sep, '[SEP]'),
    pad: '[PAD]',
    added,
  };
}
