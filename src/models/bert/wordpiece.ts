/**
 * BERT's tokenizer: the basic tokenizer (clean control characters and
 * whitespace, CJK characters as their own tokens, lower-casing and accent
 * stripping when configured, punctuation split) then WordPiece (greedy
 * longest match, `##` continuations, the unknown token for a word with no
 * match or over 100 characters), with [CLS] … [SEP] and truncation.
 */
import { readFileSync } from 'node:fs';
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
    const { prefix, maxInputChars } = this.#spec;
    for (const word of basicTokenize(text, this.#spec)) {
      const chars = Array.from(word);
      if (chars.length > maxInputChars) {
        if (emit(this.unkId) === false) return;
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
        if (emit(this.unkId) === false) return;
        continue;
      }
      for (const id of pieces) if (emit(id) === false) return;
    }
  }
}

function specialToken(raw: Record<string, unknown> | undefined, key: string, fallback: string): string {
  const v = raw?.[key];
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return fallback;
}

/**
 * Reads vocab.txt (one token a line, id = line number) and tokenizer_config.json.
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
  return {
    vocab,
    lowerCase,
    stripAccents,
    chineseChars: cfg?.tokenize_chinese_chars !== false,
    cleanText: true,
    prefix: '##',
    maxInputChars: 100,
    unk: specialToken(cfg, 'unk_token', '[UNK]'),
    cls: specialToken(cfg, 'cls_token', '[CLS]'),
    sep: specialToken(cfg, 'sep_token', '[SEP]'),
    pad: specialToken(cfg, 'pad_token', '[PAD]'),
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
  };
}
