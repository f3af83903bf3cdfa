/**
 * Process exit codes of the `vecforge` command (documented in the README).
 */
import { CommanderError } from 'commander';
import { isUsageError } from './usage-error.js';

export const kExitOk = 0;
/** The job failed as a whole: unreadable input, full disk, corrupt index. */
export const kExitFatal = 1;
/** The command line or the configuration is wrong (a UsageError or ERR_CONFIG); never an internal or data failure. */
export const kExitUsage = 2;
/** The job finished, but some items failed (see the errors file). */
export const kExitPartial = 3;
/** Interrupted (Ctrl-C); progress up to the last checkpoint is kept. */
export const kExitInterrupted = 130;

/**
 * The exit code of an error that ended a command: 2 only for the command
 * line and the configuration (commander's errors, {@link isUsageError});
 * everything else, a corrupt index or an internal failure such as a stack
 * overflow or a RangeError from deep code, is 1.
 * @param error - what the command threw.
 * @returns the exit code.
 */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? kExitOk : kExitUsage;
  return isUsageError(error) ? kExitUsage : kExitFatal;
}
