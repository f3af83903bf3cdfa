/**
 * Time spent per stage of a job (see {@link JobStages}).
 */
import type { JobStages } from './types.js';

/** A stage of {@link JobStages}. */
export type Stage = 'read' | 'cache' | 'embed' | 'insert' | 'write';

/** Adds up the time spent in each stage. */
export class StageTimers {
  readonly ms: Record<Stage, number> = { read: 0, cache: 0, embed: 0, insert: 0, write: 0 };

  async time<T>(stage: Stage, fn: () => Promise<T> | T): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.ms[stage] += performance.now() - t0;
    }
  }

  timeSync<T>(stage: Stage, fn: () => T): T {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      this.ms[stage] += performance.now() - t0;
    }
  }
}
