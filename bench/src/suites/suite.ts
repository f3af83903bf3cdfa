/**
 * What every benchmark suite receives, and what it may return.
 */
import type { Report } from '../report/report.js';

/** What every benchmark suite receives. */
export interface SuiteContext {
  /** Smaller data and fewer iterations (CI smoke run). */
  readonly quick: boolean;
  /** Where prepared benchmark data is cached. */
  readonly dataDir: string;
  /** The largest worker count to measure. */
  readonly maxWorkers: number;
  /** The soak suite's length in seconds. @default 600, or 20 with quick */
  readonly soakSeconds?: number;
  /** Texts the model suite embeds (`--model-texts`). @default 4000, or 300 with quick */
  readonly modelTexts?: number;
  /** The quality suite's vector side (`--quality-model DIR`): a model directory instead of glove-100d. */
  readonly qualityModel?: string;
}

/** A suite that chose not to run says why (e.g. its figures were already measured in this run). */
export interface SuiteSkipped {
  readonly skipped: string;
}

/** A suite: records tables and figures into the report. */
// biome-ignore lint/suspicious/noConfusingVoidType: most suites never skip and are plain async functions returning Promise<void>.
export type SuiteRunner = (report: Report, ctx: SuiteContext) => Promise<void | SuiteSkipped>;
