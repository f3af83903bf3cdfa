/**
 * Converts the glove-100d cache once before any test file runs, so test
 * files do not race to convert it.
 */
import { ensureGloveCache } from '../src/models/glove/convert.js';
import { kTestCacheDir } from './cache-dir.js';

/** Vitest global setup. */
export default function setup(): void {
  process.env.VECFORGE_CACHE_DIR = kTestCacheDir;
  ensureGloveCache(kTestCacheDir);
}
