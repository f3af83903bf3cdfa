/**
 * `vecforge serve [DIR... | NAME=DIR...]`: the engine's model and index
 * directories over HTTP until SIGTERM or SIGINT, which drains requests in
 * flight (bounded by --drain-ms), saves pending writes (unless
 * --no-save-on-exit) and exits 0.
 */
import { Engine } from '../index.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { type ServeOptions, parseServedIndex, resolveServeOptions } from '../serve/options.js';
import { VecforgeServer } from '../serve/server.js';
import { kExitOk } from './exit-codes.js';
import { engineCreateOptions } from './provider-flags.js';
import { kServerApiKeyEnv, type ServeFlags } from './serve-flags.js';
import { onInterrupt } from './signals.js';
import { UsageError } from './usage-error.js';

/** Micro-batching window of the served engine: concurrent requests share pool batches. */
const kServeCoalesceMs = 2;

/**
 * Runs the server until SIGTERM or SIGINT.
 * @param dirs - `DIR` or `NAME=DIR` arguments.
 * @param flags - the server flags.
 * @param config - the resolved config (engine section).
 * @param env - the environment (for the API key).
 * @returns the exit code, 0 after a graceful stop.
 * @throws {UsageError} for a bad argument or option.
 */
export async function runServe(dirs: readonly string[], flags: ServeFlags, config: ResolvedConfig, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let options: ServeOptions;
  try {
    const envKey = env[kServerApiKeyEnv];
    const apiKey = flags.apiKey ?? (envKey !== undefined && envKey !== '' ? envKey : undefined);
    options = {
      indexes: dirs.map(parseServedIndex),
      ...(flags.host !== undefined ? { host: flags.host } : {}),
      ...(flags.port !== undefined ? { port: flags.port } : {}),
      ...(flags.maxQueue !== undefined ? { maxQueue: flags.maxQueue } : {}),
      ...(flags.maxBodyBytes !== undefined ? { maxBodyBytes: flags.maxBodyBytes } : {}),
      ...(flags.cacheSize !== undefined ? { cacheSize: flags.cacheSize } : {}),
      ...(flags.cacheTtlMs !== undefined ? { cacheTtlMs: flags.cacheTtlMs } : {}),
      ...(apiKey !== undefined ? { apiKey } : {}),
      ...(flags.cors !== undefined ? { cors: flags.cors } : {}),
      ...(flags.drainMs !== undefined ? { drainMs: flags.drainMs } : {}),
      ...(flags.saveIntervalMs !== undefined ? { saveIntervalMs: flags.saveIntervalMs } : {}),
      ...(flags.reloadPollMs !== undefined ? { reloadPollMs: flags.reloadPollMs } : {}),
      saveOnExit: flags.saveOnExit !== false,
    };
    // Checked before the engine starts (seconds of work).
    resolveServeOptions(options);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.replace(/^options\./, '--') : String(error));
  }
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  // From here a signal drains instead of killing the process.
  const offInterrupt = onInterrupt(() => stop());
  try {
    const engine = await Engine.create({ ...engineCreateOptions(config), coalesceMs: kServeCoalesceMs });
    try {
      let server: VecforgeServer;
      try {
        server = await VecforgeServer.start(engine, options);
      } catch (error) {
        if (error instanceof TypeError || error instanceof RangeError) throw new UsageError(error.message.replace(/^options\./, '--'));
        throw error;
      }
      const info = engine.info();
      const names = [...server.slots.keys()];
      process.stderr.write(`vecforge serve: model ${info.model} (${info.dims} dims, ${info.workers} workers); indexes: ${names.length === 0 ? 'none' : names.join(', ')}; API key ${options.apiKey !== undefined ? 'required' : 'not required'}\n`);
      process.stdout.write(`listening on ${server.url}\n`);
      await stopped;
      process.stderr.write('vecforge serve: stopping: draining requests in flight\n');
      await server.close();
      process.stderr.write('vecforge serve: stopped\n');
    } finally {
      await engine.close();
    }
  } finally {
    offInterrupt();
  }
  return kExitOk;
}
