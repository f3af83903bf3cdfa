/**
 * Where tests keep the converted model cache (shared by all test files).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const kRepoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** One model cache shared by the test files, converted once by global setup. */
export const kTestCacheDir = process.env.VECFORGE_CACHE_DIR ?? join(kRepoRoot, '.cache', 'vecforge-test');
