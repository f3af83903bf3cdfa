/**
 * Progress output: a bar with items/s and ETA on a TTY, nothing otherwise
 * (the commands print structured lines or a final summary instead).
 */
import cliProgress from 'cli-progress';

/** A progress display over a byte or item total. */
export interface Progress {
  /**
   * Updates the display.
   * @param done - units done (bytes or items).
   * @param items - items processed so far.
   * @param failed - items failed so far.
   */
  update(done: number, items: number, failed: number): void;
  /** Removes the bar. */
  stop(): void;
}

/**
 * Creates a progress display.
 * @param total - units in all (bytes of the input, or items).
 * @param enabled - false for no output (not a TTY, or --json).
 * @returns the display.
 */
export function createProgress(total: number, enabled: boolean): Progress {
  if (!enabled) return { update: () => {}, stop: () => {} };
  const started = performance.now();
  const bar = new cliProgress.SingleBar(
    {
      format: '{bar} {percentage}% | {items} items | {rate} items/s | {failed} failed | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(1, total), 0, { items: 0, rate: 0, failed: 0 });
  return {
    update(done, items, failed) {
      const seconds = (performance.now() - started) / 1000;
      bar.update(done, { items, failed, rate: seconds > 0 ? Math.round(items / seconds) : 0 });
    },
    stop() {
      bar.stop();
    },
  };
}
