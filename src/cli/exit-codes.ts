/**
 * Process exit codes of the `vecforge` command (documented in the README).
 */
export const kExitOk = 0;
/** The job failed as a whole: unreadable input, full disk, corrupt index. */
export const kExitFatal = 1;
/** The command line itself is wrong. */
export const kExitUsage = 2;
/** The job finished, but some items failed (see the errors file). */
export const kExitPartial = 3;
/** Interrupted (Ctrl-C); progress up to the last checkpoint is kept. */
export const kExitInterrupted = 130;
