/**
 * `vecforge info`: the engine's backend, model and cache locations.
 */
import { Engine, type EngineOptions } from '../index.js';
import { kExitOk } from './exit-codes.js';

/**
 * Prints engine info.
 * @param options - engine options and output mode.
 * @returns the exit code.
 */
export async function runInfo(options: { engine: EngineOptions; json: boolean; configFile?: string | undefined }): Promise<number> {
  const engine = await Engine.create(options.engine, options.configFile !== undefined ? { configFile: options.configFile } : {});
  try {
    const info = engine.info();
    if (options.json) process.stdout.write(`${JSON.stringify(info)}\n`);
    else {
      process.stdout.write(`backend:   ${info.backend}\nmodel:     ${info.model} (${info.modelId}), ${info.dims} dims\nworkers:   ${info.workers}\ncache dir: ${info.cacheDir}\n`);
      for (const [k, v] of Object.entries(info.modelFiles)) process.stdout.write(`  ${k}: ${v}\n`);
    }
    return kExitOk;
  } finally {
    await engine.close();
  }
}
