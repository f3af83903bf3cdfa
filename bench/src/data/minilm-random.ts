/**
 * A random-weight BERT model directory with the shape of
 * sentence-transformers/all-MiniLM-L6-v2 (6 layers, hidden 384, 12 heads,
 * FFN 1536, 512 positions, max_seq_length 256, mean pooling, Normalize) and
 * a WordPiece vocabulary of 30,522 entries made from real words.
 *
 * Throughput does not depend on the weights' values, so they are random
 * (normal-ish, scale 0.02 as BERT initialises; LayerNorm 1 and 0). The
 * vocabulary is NOT bert-base-uncased's: it is the specials, single
 * characters and their `##` forms, the most frequent words of the corpus
 * given, then the most frequent 2–5 letter word endings as `##` pieces,
 * until 30,522 entries. Text from that corpus therefore splits into fewer
 * pieces than with the real vocabulary (reported as tokens per text).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../internals.js';
import { prepareDefinitions, readDefinitionTexts } from './definitions.js';

/** The MiniLM-L6 shape. */
export const kMiniLmShape = Object.freeze({ layers: 6, hidden: 384, heads: 12, ffn: 1536, vocab: 30_522, positions: 512, maxSeqLength: 256 });

/** Bump when the files written change. */
const kFormatVersion = 1;

/** A written model directory. */
export interface RandomMiniLm {
  readonly dir: string;
  /** Whether it was already there. */
  readonly reused: boolean;
  /** Words of the vocabulary that are whole words (not specials, characters or `##` pieces). */
  readonly wholeWords: number;
}

/**
 * Builds a 30,522-entry WordPiece vocabulary from real words.
 * @param texts - the corpus the words are counted in.
 * @returns the vocabulary, one token a line in id order, and how many are whole words.
 */
export function buildVocabulary(texts: readonly string[]): { vocab: string[]; wholeWords: number } {
  const vocab: string[] = ['[PAD]'];
  for (let i = 0; i < 99; i++) vocab.push(`[unused${i}]`);
  vocab.push('[UNK]', '[CLS]', '[SEP]', '[MASK]');
  const chars = new Set<string>();
  const words = new Map<string, number>();
  for (const text of texts) {
    for (const w of text.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '').split(/[^\p{L}\p{N}]+/u)) {
      if (w === '') continue;
      words.set(w, (words.get(w) ?? 0) + 1);
      for (const c of w) chars.add(c);
    }
  }
  for (const c of '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~') chars.add(c);
  const single = [...chars].sort();
  vocab.push(...single, ...single.map((c) => `##${c}`));
  const byCount = [...words.entries()].filter(([w]) => w.length > 1).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  // About 3/4 of the rest whole words, 1/4 word endings, as in BERT's vocabularies.
  const room = kMiniLmShape.vocab - vocab.length;
  const wholeWords = Math.min(byCount.length, Math.floor(room * 0.75));
  const known = new Set(vocab);
  for (const [w] of byCount.slice(0, wholeWords)) {
    vocab.push(w);
    known.add(w);
  }
  const endings = new Map<string, number>();
  for (const [w, n] of byCount.slice(wholeWords)) {
    for (let len = 2; len <= 5 && len < w.length; len++) {
      const piece = `##${w.slice(w.length - len)}`;
      endings.set(piece, (endings.get(piece) ?? 0) + n);
    }
  }
  const pieces = [...endings.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  for (const [p] of pieces) {
    if (vocab.length >= kMiniLmShape.vocab) break;
    if (!known.has(p)) {
      vocab.push(p);
      known.add(p);
    }
  }
  // A corpus too small to fill the table: numbered filler entries no text matches.
  for (let i = 0; vocab.length < kMiniLmShape.vocab; i++) vocab.push(`[filler${i}]`);
  return { vocab, wholeWords };
}


/**
 * The bytes of an F32 safetensors file.
 * @param tensors - name, shape, data, in file order.
 * @returns the file.
 */
function safetensors(tensors: ReadonlyArray<{ name: string; shape: number[]; data: Float32Array }>): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
}

/**
 * Writes (or reuses) the random MiniLM-shaped model directory.
 * @param dir - where.
 * @param corpus - texts the vocabulary's words are counted in.
 * @returns the directory.
 */
export function ensureRandomMiniLm(dir: string, corpus: readonly string[]): RandomMiniLm {
  const stamp = join(dir, 'vecforge-bench.json');
  const corpusHash = createHash('sha256').update(corpus.join('\n')).digest('hex').slice(0, 16);
  if (existsSync(stamp)) {
    const s = JSON.parse(readFileSync(stamp, 'utf8')) as { version?: number; corpus?: string; wholeWords?: number };
    if (s.version === kFormatVersion && s.corpus === corpusHash) return { dir, reused: true, wholeWords: s.wholeWords ?? 0 };
  }
  mkdirSync(join(dir, '1_Pooling'), { recursive: true });
  const { vocab, wholeWords } = buildVocabulary(corpus);
  const s = kMiniLmShape;
  const next = mulberry32(20261203);
  const tensors: Array<{ name: string; shape: number[]; data: Float32Array }> = [];
  const add = (name: string, shape: number[], kind: 'w' | 'g' | 'b'): void => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (kind === 'g') data.fill(1);
    // Sum of 3 uniforms: close to normal, std 0.02.
    else if (kind === 'w') for (let i = 0; i < data.length; i++) data[i] = (next() + next() + next() - 1.5) * 0.04;
    tensors.push({ name: `bert.${name}`, shape, data });
  };
  add('embeddings.word_embeddings.weight', [s.vocab, s.hidden], 'w');
  add('embeddings.position_embeddings.weight', [s.positions, s.hidden], 'w');
  add('embeddings.token_type_embeddings.weight', [2, s.hidden], 'w');
  add('embeddings.LayerNorm.weight', [s.hidden], 'g');
  add('embeddings.LayerNorm.bias', [s.hidden], 'b');
  for (let l = 0; l < s.layers; l++) {
    const p = `encoder.layer.${l}.`;
    for (const part of ['query', 'key', 'value']) {
      add(`${p}attention.self.${part}.weight`, [s.hidden, s.hidden], 'w');
      add(`${p}attention.self.${part}.bias`, [s.hidden], 'b');
    }
    add(`${p}attention.output.dense.weight`, [s.hidden, s.hidden], 'w');
    add(`${p}attention.output.dense.bias`, [s.hidden], 'b');
    add(`${p}attention.output.LayerNorm.weight`, [s.hidden], 'g');
    add(`${p}attention.output.LayerNorm.bias`, [s.hidden], 'b');
    add(`${p}intermediate.dense.weight`, [s.ffn, s.hidden], 'w');
    add(`${p}intermediate.dense.bias`, [s.ffn], 'b');
    add(`${p}output.dense.weight`, [s.hidden, s.ffn], 'w');
    add(`${p}output.dense.bias`, [s.hidden], 'b');
    add(`${p}output.LayerNorm.weight`, [s.hidden], 'g');
    add(`${p}output.LayerNorm.bias`, [s.hidden], 'b');
  }
  writeFileSync(join(dir, 'model.safetensors'), safetensors(tensors));
  writeFileSync(join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, tokenize_chinese_chars: true, strip_accents: null }));
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      _note: 'random weights with the shape of sentence-transformers/all-MiniLM-L6-v2 (vecforge bench)',
      architectures: ['BertModel'], model_type: 'bert', vocab_size: s.vocab, hidden_size: s.hidden, num_hidden_layers: s.layers,
      num_attention_heads: s.heads, intermediate_size: s.ffn, max_position_embeddings: s.positions, type_vocab_size: 2,
      layer_norm_eps: 1e-12, hidden_act: 'gelu', position_embedding_type: 'absolute',
    }),
  );
  writeFileSync(
    join(dir, 'modules.json'),
    JSON.stringify([
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
      { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' },
    ]),
  );
  writeFileSync(join(dir, '1_Pooling', 'config.json'), JSON.stringify({ word_embedding_dimension: s.hidden, pooling_mode_cls_token: false, pooling_mode_mean_tokens: true, pooling_mode_max_tokens: false, pooling_mode_mean_sqrt_len_tokens: false }));
  writeFileSync(join(dir, 'sentence_bert_config.json'), JSON.stringify({ max_seq_length: s.maxSeqLength, do_lower_case: false }));
  writeFileSync(stamp, JSON.stringify({ version: kFormatVersion, corpus: corpusHash, wholeWords }));
  return { dir, reused: false, wholeWords };
}

/** The random model and an even sample of the definitions it embeds. */
export interface MiniLmBenchSet {
  readonly model: RandomMiniLm;
  /** Every 100,000 definitions (the model's vocabulary comes from them). */
  readonly all: readonly string[];
  /** `count` of them, every `step`th. */
  readonly texts: readonly string[];
  readonly step: number;
}

/**
 * The model and model-suite texts the neural benchmarks share: 100,000
 * WordNet definitions, the random MiniLM written from them (or reused), and
 * every step-th definition up to `count`.
 * @param dataDir - the bench data directory.
 * @param count - texts wanted.
 * @returns model, corpus and sample.
 */
export async function miniLmBenchSet(dataDir: string, count: number): Promise<MiniLmBenchSet> {
  const corpus = await prepareDefinitions({ cacheDir: join(dataDir, 'wordnet'), count: 100_000 });
  const all = readDefinitionTexts(corpus.path, 100_000);
  const step = Math.max(1, Math.floor(all.length / count));
  const texts = all.filter((_, i) => i % step === 0).slice(0, count);
  return { model: ensureRandomMiniLm(join(dataDir, 'minilm-random'), all), all, texts, step };
}
