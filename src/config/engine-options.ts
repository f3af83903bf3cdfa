/**
 * Engine options: the public `EngineOptions`, the frozen defaults and the
 * resolved type (STYLE.md, "options in threes").
 */
import { availableParallelism, homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { kBackendNames, type BackendChoice } from '../tensor/backend.js';
import { enumField, intField, stringField, type FieldMap } from './fields.js';

/** Options of {@link Engine.create}. Every field is optional. */
export interface EngineOptions {
  /** Pool size. @default the number of available cores */
  workers?: number;
  /** TF.js backend, or `auto` for tfjs-node-gpu > tfjs-node > wasm > cpu. @default 'auto' */
  backend?: BackendChoice;
  /** Embedding model name from the model registry. @default 'glove-100d' */
  model?: string;
  /** Where converted model caches live. @default $VECFORGE_CACHE_DIR, else $XDG_CACHE_HOME/vecforge (when absolute), else $HOME/.cache/vecforge (HOME must be absolute) */
  cacheDir?: string;
  /** Largest accepted text, in UTF-8 bytes. @default 1048576 (1 MiB) */
  maxTextBytes?: number;
  /**
   * Token budget of one batch (a text counts as UTF-16 length / 6 + 1
   * tokens); a sort window smaller than `workers` budgets is still cut
   * into `workers` batches. @default 65536
   */
  batchTokens?: number;
  /** Texts are sorted by length within windows of this many items. @default 8192 */
  sortWindow?: number;
  /** Retries of a failed batch before it is split to isolate the bad item. @default 2 */
  maxRetries?: number;
  /**
   * How glove-100d computes sentence vectors: `tfjs` as TF.js ops, `js` as
   * one fused loop over the shared table; `auto` picks `js` on the wasm and
   * cpu backends (measured faster there, see the README) and `tfjs` on
   * tfjs-node and tfjs-node-gpu. For a BERT model directory, `js` and
   * `auto` (on wasm and cpu) run the encoder on the addon's native ops
   * where it is built, `tfjs` as TF.js ops.
   * @default 'auto'
   */
  math?: 'auto' | 'tfjs' | 'js';
}

/** Engine options after defaults are applied: nothing is undefined. */
export type ResolvedEngineOptions = Readonly<Required<EngineOptions>>;

/** Where a resolved value came from. */
export type OptionSource = 'option' | 'env' | 'file' | 'default';

/** The fields of the `engine` config section, with their allowed values. */
export const kEngineFields = Object.freeze({
  workers: intField(1, 64),
  backend: enumField(['auto', ...kBackendNames] as const),
  model: stringField(),
  cacheDir: stringField(),
  maxTextBytes: intField(1, 64 * 1024 * 1024),
  batchTokens: intField(16, 1_000_000),
  sortWindow: intField(1, 1_000_000),
  maxRetries: intField(0, 10),
  math: enumField(['auto', 'tfjs', 'js'] as const),
}) satisfies FieldMap;

/**
 * The default cache directory: `$VECFORGE_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/vecforge`, else `$HOME/.cache/vecforge`. A relative
 * `XDG_CACHE_HOME` is ignored, as the XDG spec asks; a relative `HOME` is
 * refused, since it would put a 142 MB model cache wherever the command
 * happens to run.
 * @param env - the environment to read.
 * @returns the cache directory.
 * @throws {RangeError} when the default would come from a relative HOME.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.VECFORGE_CACHE_DIR;
  if (explicit !== undefined && explicit !== '') return explicit;
  const xdg = env.XDG_CACHE_HOME;
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'vecforge');
  const home = env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir();
  if (!isAbsolute(home)) {
    throw new RangeError(
      `environment variable HOME is a relative path (${JSON.stringify(home)}), so the default cache directory would depend on the working directory; set HOME or XDG_CACHE_HOME to an absolute path, or VECFORGE_CACHE_DIR (options.cacheDir, --cache-dir)`,
    );
  }
  return join(home, '.cache', 'vecforge');
}

/**
 * The defaults, computed for this machine; the cache directory's is
 * {@link defaultCacheDir} of the environment in use.
 * @returns frozen defaults.
 */
export function engineDefaults(): Omit<ResolvedEngineOptions, 'cacheDir'> {
  return Object.freeze({
    workers: Math.max(1, Math.min(64, availableParallelism())),
    backend: 'auto',
    model: 'glove-100d',
    maxTextBytes: 1024 * 1024,
    batchTokens: 65_536,
    sortWindow: 8192,
    maxRetries: 2,
    math: 'auto',
  });
}
