/**
 * What every benchmark suite receives.
 */
export interface SuiteContext {
  /** Smaller data and fewer iterations (CI smoke run). */
  readonly quick: boolean;
  /** Where prepared benchmark data is cached. */
  readonly dataDir: string;
  /** The largest worker count to measure. */
  readonly maxWorkers: number;
}
