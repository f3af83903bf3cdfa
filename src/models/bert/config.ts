/**
 * Reads a Hugging Face / sentence-transformers BERT model directory: which
 * files are there, config.json, and the sentence-transformers pooling,
 * normalisation and sequence-length settings.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VecforgeError } from '../../errors.js';

/**
 * `model_type` values with BERT's weight names and layout, and their
 * weight-name prefix. `bert` covers the BERT-architecture sentence encoders
 * (all-MiniLM, bge, e5, gte, multi-qa, msmarco …: their config.json says
 * `bert`). `ernie` (transformers' ErnieModel) is BERT's code with an
 * optional task-type embedding; without it (`use_task_id` false) it is
 * the same network.
 */
export const kBertModelTypes: Readonly<Record<string, string>> = Object.freeze({ bert: 'bert.', ernie: 'ernie.' });

/** Why common encoder types that look like BERT are refused: their weights or inputs differ. */
const kRefusedModelTypes: Readonly<Record<string, string>> = Object.freeze({
  roberta: 'positions start after the padding index and the tokenizer is byte-level BPE',
  'xlm-roberta': 'positions start after the padding index and the tokenizer is SentencePiece',
  camembert: 'positions start after the padding index and the tokenizer is SentencePiece',
  distilbert: 'different weight names (q_lin, ffn.lin1) and no token-type embeddings',
  mpnet: 'relative position attention bias',
  electra: 'an embedding projection when embedding_size differs from hidden_size, and different weight names',
  albert: 'factorised embeddings and one layer shared by all',
  deberta: 'disentangled relative attention',
  'deberta-v2': 'disentangled relative attention',
  nomic_bert: 'rotary positions and fused, gated feed-forward weights',
  'megatron-bert': 'LayerNorm before each block instead of after',
  modernbert: 'rotary positions, gated feed-forward and no biases',
});

/** Activations of the feed-forward block: `gelu` is the exact erf form, the others the tanh approximation. */
export const kBertActivations = Object.freeze(['gelu', 'gelu_new', 'gelu_pytorch_tanh'] as const);

/** A supported activation. */
export type BertActivation = (typeof kBertActivations)[number];

/** Pooling modes over the real tokens. */
export const kBertPoolings = Object.freeze(['mean', 'cls', 'max'] as const);

/** A supported pooling mode. */
export type BertPooling = (typeof kBertPoolings)[number];

/** The parts of config.json the forward pass uses. */
export interface BertConfig {
  readonly modelType: string;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly intermediateSize: number;
  readonly maxPositions: number;
  readonly typeVocabSize: number;
  readonly layerNormEps: number;
  readonly activation: BertActivation;
}

/** Sentence-level settings: pooling, normalisation, sequence length. */
export interface BertSentenceConfig {
  readonly pooling: BertPooling;
  readonly normalize: boolean;
  /** Tokens per text including [CLS] and [SEP]. */
  readonly maxSeqLength: number;
}

/** The files of a model directory this model reads. */
export interface BertFiles {
  readonly dir: string;
  readonly config: string;
  readonly weights: string;
  /** vocab.txt (with tokenizer_config.json when present) or tokenizer.json. */
  readonly tokenizer: { readonly kind: 'vocab'; readonly vocab: string; readonly config: string | undefined } | { readonly kind: 'tokenizer-json'; readonly file: string };
  /** Files whose bytes also key the model id (modules.json, pooling, sentence config). */
  readonly extra: readonly string[];
}

function modelError(message: string): VecforgeError {
  return new VecforgeError('ERR_MODEL', message);
}

function listing(dir: string): string {
  const names = readdirSync(dir).sort();
  return names.length === 0 ? 'the directory is empty' : `found: ${names.join(', ')}`;
}

/**
 * Finds the files of a model directory.
 * @param dir - the directory.
 * @returns the files to read.
 * @throws {VecforgeError} ERR_MODEL listing what is missing and what was found.
 */
export function findBertFiles(dir: string): BertFiles {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw modelError(`model directory ${dir} does not exist or is not a directory`);
  const has = (name: string): boolean => existsSync(join(dir, name));
  const missing: string[] = [];
  if (!has('config.json')) missing.push('config.json');
  if (!has('vocab.txt') && !has('tokenizer.json')) missing.push('vocab.txt or tokenizer.json');
  if (!has('model.safetensors')) {
    missing.push(has('pytorch_model.bin') ? 'model.safetensors (pytorch_model.bin is not supported: convert it to safetensors)' : 'model.safetensors');
  }
  if (missing.length > 0) throw modelError(`model directory ${dir} is missing ${missing.join(', ')}; ${listing(dir)}`);
  const tokenizer: BertFiles['tokenizer'] = has('vocab.txt')
    ? { kind: 'vocab', vocab: join(dir, 'vocab.txt'), config: has('tokenizer_config.json') ? join(dir, 'tokenizer_config.json') : undefined }
    : { kind: 'tokenizer-json', file: join(dir, 'tokenizer.json') };
  const extra = ['modules.json', 'sentence_bert_config.json', 'special_tokens_map.json', 'added_tokens.json'].filter(has).map((n) => join(dir, n));
  return { dir, config: join(dir, 'config.json'), weights: join(dir, 'model.safetensors'), tokenizer, extra };
}

/**
 * Reads a JSON file as an object.
 * @param path - the file.
 * @returns its object.
 * @throws {VecforgeError} ERR_MODEL when it is not a JSON object.
 */
export function readJsonObject(path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw modelError(`${path} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw modelError(`${path} must hold a JSON object`);
  return value as Record<string, unknown>;
}

function positiveInt(path: string, raw: Record<string, unknown>, key: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw modelError(`${path}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}

/**
 * Parses config.json.
 * @param path - the file.
 * @returns the config.
 * @throws {VecforgeError} ERR_MODEL for an unsupported model_type, activation or position embedding, or a bad field.
 */
export function parseBertConfig(path: string): BertConfig {
  const raw = readJsonObject(path);
  const modelType = raw.model_type;
  if (typeof modelType !== 'string' || kBertModelTypes[modelType] === undefined) {
    const why = typeof modelType === 'string' ? kRefusedModelTypes[modelType] : undefined;
    throw modelError(`${path}: model_type ${JSON.stringify(modelType)} is not supported${why !== undefined ? ` (${why})` : ''}; supported: ${Object.keys(kBertModelTypes).join(', ')} (BERT's weight layout)`);
  }
  if (modelType === 'ernie' && raw.use_task_id === true) {
    throw modelError(`${path}: model_type "ernie" with "use_task_id": true (a task-type embedding) is not supported; supported: ernie without task ids, bert`);
  }
  const act = raw.hidden_act ?? 'gelu';
  if (typeof act !== 'string' || !(kBertActivations as readonly string[]).includes(act)) {
    throw modelError(`${path}: hidden_act ${JSON.stringify(act)} is not supported; supported: ${kBertActivations.join(', ')}`);
  }
  const positions = raw.position_embedding_type ?? 'absolute';
  if (positions !== 'absolute') throw modelError(`${path}: position_embedding_type ${JSON.stringify(positions)} is not supported; supported: absolute`);
  const hiddenSize = positiveInt(path, raw, 'hidden_size');
  const numHeads = positiveInt(path, raw, 'num_attention_heads');
  if (hiddenSize % numHeads !== 0) throw modelError(`${path}: hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}`);
  const eps = raw.layer_norm_eps ?? 1e-12;
  if (typeof eps !== 'number' || !(eps > 0)) throw modelError(`${path}: "layer_norm_eps" must be a positive number, got ${JSON.stringify(eps)}`);
  return {
    modelType,
    vocabSize: positiveInt(path, raw, 'vocab_size'),
    hiddenSize,
    numLayers: positiveInt(path, raw, 'num_hidden_layers'),
    numHeads,
    intermediateSize: positiveInt(path, raw, 'intermediate_size'),
    maxPositions: positiveInt(path, raw, 'max_position_embeddings', 512),
    typeVocabSize: positiveInt(path, raw, 'type_vocab_size', 2),
    layerNormEps: eps,
    activation: act as BertActivation,
  };
}

/**
 * Reads the sentence-transformers settings: modules.json (its Pooling and
 * Normalize modules), the pooling config and sentence_bert_config.json.
 * Without modules.json: mean pooling and L2 normalisation.
 * @param files - the directory's files (receives the pooling config path in `extra`).
 * @param config - the parsed config.json.
 * @returns the settings and the pooling config file, if any.
 * @throws {VecforgeError} ERR_MODEL for an unsupported pooling mode.
 */
export function parseSentenceConfig(files: BertFiles, config: BertConfig): { sentence: BertSentenceConfig; poolingFile: string | undefined } {
  let pooling: BertPooling = 'mean';
  let normalize = true;
  let poolingFile: string | undefined;
  const modulesPath = join(files.dir, 'modules.json');
  let poolingDir: string | undefined = existsSync(join(files.dir, '1_Pooling', 'config.json')) ? '1_Pooling' : undefined;
  if (existsSync(modulesPath)) {
    let modules: unknown;
    try {
      modules = JSON.parse(readFileSync(modulesPath, 'utf8'));
    } catch (error) {
      throw modelError(`${modulesPath} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!Array.isArray(modules)) throw modelError(`${modulesPath} must hold a JSON array of modules`);
    const types = modules.map((m: unknown) => (m !== null && typeof m === 'object' ? String((m as { type?: unknown }).type ?? '') : ''));
    normalize = types.some((t) => t.endsWith('.Normalize'));
    const p = modules.find((m: unknown) => m !== null && typeof m === 'object' && String((m as { type?: unknown }).type ?? '').endsWith('.Pooling')) as { path?: unknown } | undefined;
    if (p !== undefined && typeof p.path === 'string') poolingDir = p.path;
  }
  if (poolingDir !== undefined && existsSync(join(files.dir, poolingDir, 'config.json'))) {
    poolingFile = join(files.dir, poolingDir, 'config.json');
    const raw = readJsonObject(poolingFile);
    const modes: string[] = [];
    for (const [key, value] of Object.entries(raw)) if (key.startsWith('pooling_mode_') && value === true) modes.push(key.slice('pooling_mode_'.length));
    const known: Record<string, BertPooling> = { mean_tokens: 'mean', cls_token: 'cls', max_tokens: 'max' };
    const mode = modes.length === 1 ? known[modes[0] as string] : undefined;
    if (mode === undefined) throw modelError(`${poolingFile}: pooling ${modes.length === 0 ? 'is not set' : modes.join(' + ')} is not supported; supported: exactly one of pooling_mode_mean_tokens, pooling_mode_cls_token, pooling_mode_max_tokens`);
    pooling = mode;
  }
  let maxSeqLength = config.maxPositions;
  const sbert = join(files.dir, 'sentence_bert_config.json');
  if (existsSync(sbert)) {
    const raw = readJsonObject(sbert);
    if (raw.max_seq_length !== undefined && raw.max_seq_length !== null) maxSeqLength = Math.min(maxSeqLength, positiveInt(sbert, raw, 'max_seq_length'));
  }
  if (maxSeqLength < 3) throw modelError(`${files.dir}: the maximum sequence length ${maxSeqLength} leaves no room for a token between [CLS] and [SEP]`);
  return { sentence: { pooling, normalize, maxSeqLength }, poolingFile };
}
