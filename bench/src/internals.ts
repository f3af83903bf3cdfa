/**
 * The only door from the bench package into vecforge's internals.
 *
 * The suites use vecforge's public API through the package name
 * (`import { Engine } from 'vecforge'`). The few internal symbols they
 * also need (to time one layer on its own, or to prepare data the way the
 * engine does) are re-exported here and nowhere else, so a move inside
 * vecforge's `src/` changes this file's paths only.
 *
 * The paths point at the root package's compiled output (`dist/src/`,
 * built by the root `tsc` before this package). `bench/src/internals.ts`
 * and its output `bench/dist/internals.js` sit at the same depth, so the
 * same relative paths hold from both; and every import here, like the
 * package name, resolves to the same compiled modules, so there is one
 * `VecforgeError` class, one addon loader, one worker pool file set.
 * Not part of vecforge's public API, and not a subpath it exports.
 */

// errors: abort checks and messages the data pipeline shares with jobs.
export { errorMessage, throwIfAborted } from '../../dist/src/errors.js';
// store: atomic writes of prepared data files.
export { writeFileAtomicSync } from '../../dist/src/store/atomic.js';
// config: where the engine keeps its caches.
export { defaultCacheDir } from '../../dist/src/config/engine-options.js';
// tensor: the TF.js backend, for ground truth, PCA and the embed kernel timed alone.
export { loadTf, resolveBackend, type Tf } from '../../dist/src/tensor/backend.js';
// models: the glove kernel, timed without the pool.
export { ensureGloveCache } from '../../dist/src/models/glove/convert.js';
export { createGloveKernel } from '../../dist/src/models/glove/kernel.js';
// index: the published version of an index directory; the pure-JS HNSW core; whether the addon loads.
export { currentVersion } from '../../dist/src/index/persist.js';
export { createFallbackHnswCore } from '../../dist/src/index/hnsw/fallback-core.js';
export { nativeHnswAvailable } from '../../dist/src/index/hnsw/native-core.js';
// pca: fit and projection timed alone; the seeded PRNG.
export { fitPca } from '../../dist/src/pca/fit.js';
export { PcaProjector } from '../../dist/src/pca/project.js';
export { randomOrthonormalRows } from '../../dist/src/pca/random.js';
// the one seeded PRNG module: xoshiro128** (createRng) and mulberry32 (query draws).
export { createRng, mulberry32, type Rng } from '../../dist/src/random.js';
// models/bert: the tokenizer, both forward passes and their FLOP count, timed without the pool (model suite).
export { readVocabTokenizer, WordPieceTokenizer } from '../../dist/src/models/bert/wordpiece.js';
export { findBertFiles, parseBertConfig } from '../../dist/src/models/bert/config.js';
export { loadBertWeights } from '../../dist/src/models/bert/weights.js';
export { BertEncoder } from '../../dist/src/models/bert/forward.js';
export { encoderFlops, NativeBertEncoder } from '../../dist/src/models/bert/native-forward.js';
export { kMaxPackedTokens, kMaxPaddedTokens, kMaxAttentionFloats } from '../../dist/src/models/bert/kernel.js';
export { loadNativeBertOps } from '../../dist/src/native/kernels.js';
// index/lexical: the lexical tokenizer and fusion, for the quality suite's exact-search reference.
export { lexicalTerms } from '../../dist/src/index/lexical/tokenize.js';
export { fuse, fuseRankings } from '../../dist/src/index/lexical/fusion.js';
export { shardLexicalHandle } from '../../dist/src/index/internal.js';
export { resolveFusionOptions } from '../../dist/src/index/lexical/options.js';
// models/glove: the vocabulary lookup with and without suffix folding, to measure what folding changes.
export { gloveViews } from '../../dist/src/models/glove/layout.js';
export { tokenizeToRows } from '../../dist/src/models/glove/tokenize.js';
