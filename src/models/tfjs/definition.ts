/**
 * The main-thread half of a TF.js model directory: model.json (graph or
 * layers format) with its weight shards, vocab.txt or tokenizer.json, and
 * vecforge.json naming the input and output tensors and the pooling.
 */
import { basename, resolve } from 'node:path';
import { throwIfAborted, VecforgeError } from '../../errors.js';
import { isTfjsModelRuntimeInstalled, kTfjsModelPackages } from '../../tensor/tfjs-models.js';
import type { ModelDefinition, PreparedModel, PrepareContext } from '../embedder.js';
import { hashFiles } from '../bert/definition.js';
import { readTokenizerJson, readVocabTokenizer, WordPieceTokenizer } from '../bert/wordpiece.js';
import { parseTfjsConfig } from './config.js';
import { findTfjsFiles, readTfjsModel } from './files.js';
import type { TfjsShared } from './kernel.js';

/**
 * A model definition for a TF.js model directory.
 * @param dir - the directory (a path).
 * @returns its definition; files are read in `prepare`.
 */
export function tfjsDirectoryDefinition(dir: string): ModelDefinition {
  const abs = resolve(dir);
  return Object.freeze({
    name: abs,
    summary: `TF.js sentence encoder from ${abs}`,
    async prepare(ctx: PrepareContext): Promise<PreparedModel> {
      throwIfAborted(ctx.signal);
      const files = findTfjsFiles(abs);
      const data = readTfjsModel(files);
      const config = parseTfjsConfig(files.vecforgeJson, files.modelJson, data.modelJson, data.format);
      const tokenizer = files.tokenizer.kind === 'vocab' ? readVocabTokenizer(files.tokenizer.vocab, files.tokenizer.config) : readTokenizerJson(files.tokenizer.file);
      // Fails here, on the main thread, for a vocabulary without its special tokens.
      new WordPieceTokenizer(tokenizer);
      // Last, so every mistake in the directory is reported first.
      if (!isTfjsModelRuntimeInstalled(data.format)) {
        const pkg = kTfjsModelPackages[data.format];
        throw new VecforgeError('ERR_MODEL', `${abs}: TF.js ${data.format} models need the package ${pkg}, which is not installed; install it beside vecforge (npm install ${pkg}, the version of @tensorflow/tfjs-core)`);
      }
      throwIfAborted(ctx.signal);
      const tokenizerFiles = files.tokenizer.kind === 'vocab' ? [files.tokenizer.vocab, ...(files.tokenizer.config !== undefined ? [files.tokenizer.config] : [])] : [files.tokenizer.file];
      const id = `tfjs:${basename(abs)}@sha256-${hashFiles([files.modelJson, files.vecforgeJson, ...tokenizerFiles, ...data.shardPaths]).slice(0, 32)}`;
      const shared: TfjsShared = { config, tokenizer, modelJson: data.modelJson, weightSpecs: data.weightSpecs, weightData: data.weightData };
      const dtypes = [...new Set(data.weightSpecs.map((w) => w.quantization !== undefined ? `${w.dtype} (quantized ${w.quantization.dtype})` : w.dtype))].sort();
      return {
        id,
        dims: config.dims,
        kernel: 'tfjs',
        shared,
        needsTf: true,
        describe: {
          architecture: `TF.js ${config.format} model (inputs ${config.inputs.map((i) => `${i.role}: ${i.name}`).join(', ')}; output ${config.output})`,
          dims: config.dims,
          parameters: data.parameters,
          tokenizer: `WordPiece, ${tokenizer.vocab.length} tokens, ${files.tokenizer.kind === 'vocab' ? 'vocab.txt' : 'tokenizer.json'}${tokenizer.lowerCase ? ', lower-cased' : ''}`,
          pooling: config.pooling,
          normalize: config.normalize ? 'yes' : 'no',
          maxSeqLength: config.maxSeqLength,
          dtype: dtypes.join(', '),
          weightsFile: data.shardPaths.map((p) => basename(p)).join(', '),
          sharedBytes: data.weightData.byteLength,
        },
      };
    },
  });
}
