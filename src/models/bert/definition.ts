/**
 * The main-thread half of a BERT sentence encoder from a Hugging Face /
 * sentence-transformers model directory.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { throwIfAborted, VecforgeError } from '../../errors.js';
import { loadNativeBertOps } from '../../native/kernels.js';
import type { BatchCost, ModelDefinition, PreparedModel, PrepareContext } from '../embedder.js';
import { findBertFiles, parseBertConfig, parseSentenceConfig, type BertConfig } from './config.js';
import type { BertMath, BertShared } from './kernel.js';
import { loadBertWeights } from './weights.js';
import { readTokenizerJson, readVocabTokenizer, WordPieceTokenizer } from './wordpiece.js';

/**
 * Hashes files' bytes (each name and length first, so bytes cannot move between files).
 * @param paths - the files.
 * @returns the hex sha256.
 */
export function hashFiles(paths: readonly string[]): string {
  const hash = createHash('sha256');
  const chunk = Buffer.allocUnsafe(1 << 20);
  for (const path of paths) {
    hash.update(`${basename(path)}\0`);
    const fd = openSync(path, 'r');
    try {
      for (;;) {
        const n = readSync(fd, chunk, 0, chunk.length, null);
        if (n === 0) break;
        hash.update(chunk.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
    hash.update('\0');
  }
  return hash.digest('hex');
}

/**
 * Which math the encoder runs: the addon's native ops where the addon loads
 * and TF.js would run on wasm or cpu (`auto`, or `js`); TF.js on
 * tfjs-node / tfjs-node-gpu (their own BLAS or CUDA does the matmuls), with
 * `math: 'tfjs'`, or where the addon is missing or `VECFORGE_NATIVE=0`.
 * @param ctx - the engine's backend and math option.
 * @returns the math and why it was chosen.
 */
export function resolveBertMath(ctx: Pick<PrepareContext, 'backend' | 'math'>): { math: BertMath; reason: string } {
  if (ctx.math === 'tfjs') return { math: 'tfjs', reason: 'math: tfjs' };
  if (ctx.math === 'auto' && ctx.backend !== 'wasm' && ctx.backend !== 'cpu') return { math: 'tfjs', reason: `backend ${ctx.backend}` };
  if (loadNativeBertOps() === undefined) return { math: 'tfjs', reason: 'native addon not available' };
  return { math: 'native', reason: 'native addon' };
}

/**
 * The scheduler's batch cost for a BERT encoder: padded tokens (rows × the
 * longest text, as TEI's max-batch-tokens counts them), each weighted by
 * 1 + longest / (2·hidden + FFN), attention's share: per token and layer the
 * projections and FFN take 2·(4h² + 2h·FFN) FLOPs and QKᵀ plus PV take
 * 4·longest·h. Lengths come from the real tokenizer, run on the main thread
 * (about 1% of the encoder's work for short texts).
 * @param config - the model config.
 * @param tokens - a text's length in tokens.
 * @returns the cost model.
 */
export function bertBatchCost(config: Pick<BertConfig, 'hiddenSize' | 'intermediateSize'>, tokens: (text: string) => number): BatchCost {
  const crossover = 2 * config.hiddenSize + config.intermediateSize;
  return Object.freeze({ tokens, cost: (rows: number, longest: number): number => rows * longest * (1 + longest / crossover) });
}

/**
 * A model definition for a BERT model directory.
 * @param dir - the directory (a path).
 * @returns its definition; files are read in `prepare`.
 */
export function bertDirectoryDefinition(dir: string): ModelDefinition {
  const abs = resolve(dir);
  return Object.freeze({
    name: abs,
    summary: `BERT sentence encoder from ${abs}`,
    async prepare(ctx: PrepareContext): Promise<PreparedModel> {
      throwIfAborted(ctx.signal);
      const files = findBertFiles(abs);
      const config = parseBertConfig(files.config);
      const { sentence, poolingFile } = parseSentenceConfig(files, config);
      const tokenizer = files.tokenizer.kind === 'vocab' ? readVocabTokenizer(files.tokenizer.vocab, files.tokenizer.config) : readTokenizerJson(files.tokenizer.file);
      // Fails here, on the main thread, for a vocabulary without its special tokens.
      const counter = new WordPieceTokenizer(tokenizer);
      const outside = [...(tokenizer.added ?? [])].find((t) => t.id >= config.vocabSize);
      if (outside !== undefined) {
        throw new VecforgeError('ERR_MODEL', `${abs}: added token ${JSON.stringify(outside.content)} has id ${outside.id}, outside the ${config.vocabSize} word embeddings of config.json`);
      }
      throwIfAborted(ctx.signal);
      const weights = loadBertWeights(files.weights, config);
      const tokenizerFiles = files.tokenizer.kind === 'vocab' ? [files.tokenizer.vocab, ...(files.tokenizer.config !== undefined ? [files.tokenizer.config] : [])] : [files.tokenizer.file];
      const keyed = [files.config, ...tokenizerFiles, ...(poolingFile !== undefined ? [poolingFile] : []), ...files.extra, files.weights];
      const id = `bert:${basename(abs)}@sha256-${hashFiles(keyed).slice(0, 32)}`;
      const { math, reason } = resolveBertMath(ctx);
      const shared: BertShared = { math, config, sentence, tokenizer, weights: weights.buffer, slots: weights.slots };
      return {
        id,
        dims: config.hiddenSize,
        batchCost: bertBatchCost(config, (text) => counter.encode(text, sentence.maxSeqLength).ids.length),
        kernel: 'bert',
        shared,
        needsTf: math === 'tfjs',
        describe: {
          architecture: `${config.modelType} (${config.numLayers} layers, hidden ${config.hiddenSize}, ${config.numHeads} heads, FFN ${config.intermediateSize}, ${config.activation})`,
          dims: config.hiddenSize,
          parameters: weights.parameters,
          tokenizer: `WordPiece, ${tokenizer.vocab.length} tokens, ${files.tokenizer.kind === 'vocab' ? 'vocab.txt' : 'tokenizer.json'}${tokenizer.lowerCase ? ', lower-cased' : ''}`,
          pooling: sentence.pooling,
          normalize: sentence.normalize ? 'yes' : 'no',
          maxSeqLength: sentence.maxSeqLength,
          dtype: weights.dtypes.join(', '),
          math: `${math} (${reason})`,
          weightsFile: files.weights,
          sharedBytes: weights.buffer.byteLength,
        },
      };
    },
  });
}
