/**
 * The main-thread half of a BERT sentence encoder from a Hugging Face /
 * sentence-transformers model directory.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { throwIfAborted, VecforgeError } from '../../errors.js';
import type { ModelDefinition, PreparedModel, PrepareContext } from '../embedder.js';
import { findBertFiles, parseBertConfig, parseSentenceConfig } from './config.js';
import type { BertShared } from './kernel.js';
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
      new WordPieceTokenizer(tokenizer);
      const outside = [...(tokenizer.added ?? [])].find((t) => t.id >= config.vocabSize);
      if (outside !== undefined) {
        throw new VecforgeError('ERR_MODEL', `${abs}: added token ${JSON.stringify(outside.content)} has id ${outside.id}, outside the ${config.vocabSize} word embeddings of config.json`);
      }
      throwIfAborted(ctx.signal);
      const weights = loadBertWeights(files.weights, config);
      const tokenizerFiles = files.tokenizer.kind === 'vocab' ? [files.tokenizer.vocab, ...(files.tokenizer.config !== undefined ? [files.tokenizer.config] : [])] : [files.tokenizer.file];
      const keyed = [files.config, ...tokenizerFiles, ...(poolingFile !== undefined ? [poolingFile] : []), ...files.extra, files.weights];
      const id = `bert:${basename(abs)}@sha256-${hashFiles(keyed).slice(0, 32)}`;
      const shared: BertShared = { config, sentence, tokenizer, weights: weights.buffer, slots: weights.slots };
      return {
        id,
        dims: config.hiddenSize,
        kernel: 'bert',
        shared,
        needsTf: true,
        describe: {
          architecture: `${config.modelType} (${config.numLayers} layers, hidden ${config.hiddenSize}, ${config.numHeads} heads, FFN ${config.intermediateSize}, ${config.activation})`,
          dims: config.hiddenSize,
          parameters: weights.parameters,
          tokenizer: `WordPiece, ${tokenizer.vocab.length} tokens, ${files.tokenizer.kind === 'vocab' ? 'vocab.txt' : 'tokenizer.json'}${tokenizer.lowerCase ? ', lower-cased' : ''}`,
          pooling: sentence.pooling,
          normalize: sentence.normalize ? 'yes' : 'no',
          maxSeqLength: sentence.maxSeqLength,
          dtype: weights.dtypes.join(', '),
          weightsFile: files.weights,
          sharedBytes: weights.buffer.byteLength,
        },
      };
    },
  });
}
