/**
 * `--pca DIMS [--pca-sample N] [--no-rerank]` (config `index.pca`,
 * `index.pcaSample`, `index.rerank`): the index option `pca`, and the
 * errors of the library named after the flags that set them.
 */
import type { PcaIndexOptions } from '../index.js';
import type { CliConfig } from './cli-config.js';
import { UsageError } from './usage-error.js';

/**
 * The `pca` index option the flags (or env, or config file) ask for.
 * @param cli - the resolved config with its sources.
 * @returns the option, or undefined when no PCA is asked for.
 * @throws {UsageError} for --pca-sample or --no-rerank without --pca, or --pca-sample below --pca.
 */
export function pcaFromConfig(cli: CliConfig): PcaIndexOptions | undefined {
  const { pca, pcaSample, rerank } = cli.config.index;
  const sourced = cli.sourced.index;
  if (pca === undefined) {
    if (pcaSample !== undefined) throw new UsageError(`--pca-sample (index.pcaSample, from ${sourced.pcaSample.source}) needs --pca DIMS`);
    if (sourced.rerank.source !== 'default' && !rerank) throw new UsageError(`--no-rerank (index.rerank, from ${sourced.rerank.source}) needs --pca DIMS`);
    return undefined;
  }
  if (pcaSample !== undefined && pcaSample < pca) {
    throw new UsageError(`--pca-sample must be at least --pca (${pca}) to fit ${pca} components, got ${pcaSample}`);
  }
  return { dims: pca, ...(pcaSample !== undefined ? { sample: pcaSample } : {}), rerank };
}

const kPcaKeys: ReadonlyArray<readonly [string, string]> = [
  ['options.pca.dims', '--pca'],
  ['options.pca.sample', '--pca-sample'],
  ['options.pca.rerank', '--no-rerank'],
  ['options.pca', '--pca'],
  // reindex --refit-pca --pca-sample N.
  ['options.refitPca.sample', '--pca-sample'],
];

/**
 * Rewrites a validation error of the `pca` index option so that it names
 * the flag: `--pca 256 is not below the input dims: options.pca.dims must
 * be smaller than the input dims: ...`.
 * @param error - any error.
 * @returns the error to report: a {@link UsageError}, cause set, when it was about `pca` (the flags' values conflict with the data); else the error itself.
 */
export function namePcaFlag(error: unknown): unknown {
  if (!(error instanceof RangeError || error instanceof TypeError)) return error;
  const hit = kPcaKeys.find(([key]) => error.message.startsWith(key));
  if (hit === undefined) return error;
  const [, flag] = hit;
  return new UsageError(`${flag}: ${error.message}`, { cause: error });
}
