/**
 * SIGINT and SIGTERM from the first moment of the command: until a command
 * registers a graceful stop (a job stops at its next checkpoint), a signal
 * ends the process at once, killed by that signal, after a word on stderr. Handlers run
 * on the event loop, so every check before long work is bounded (see
 * io/usable-dir.ts): a blocked loop would ignore them.
 */
const kSignals = ['SIGINT', 'SIGTERM'] as const;
const handlers: Array<() => void> = [];
let installed = false;

function dispatch(signal: NodeJS.Signals): void {
  const handler = handlers[handlers.length - 1];
  if (handler !== undefined) {
    handler();
    return;
  }
  process.stderr.write(`\nvecforge: interrupted (${signal})\n`);
  // Not process.exit(): it waits for the libuv thread pool, where a read of a
  // FIFO or a terminal may block forever. With the handlers gone the signal's
  // default action applies: the process ends at once, killed by it (a shell
  // reports 130 for SIGINT, 143 for SIGTERM).
  for (const s of kSignals) process.off(s, dispatch);
  installed = false;
  process.kill(process.pid, signal);
}

/** Installs the process's SIGINT and SIGTERM handlers (once; later calls do nothing). */
export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  for (const signal of kSignals) process.on(signal, dispatch);
}

/**
 * Routes SIGINT and SIGTERM to `handler` instead of exiting at once, until
 * the returned function is called.
 * @param handler - what a signal does meanwhile.
 * @returns a function that removes the handler.
 */
export function onInterrupt(handler: () => void): () => void {
  handlers.push(handler);
  return () => {
    const i = handlers.lastIndexOf(handler);
    if (i !== -1) handlers.splice(i, 1);
  };
}
