/**
 * Where worker entry files are. Workers always run compiled JavaScript from
 * dist/workers, also when src/ itself runs from TypeScript source (vitest).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VecforgeError } from '../errors.js';

/**
 * Resolves a worker entry file.
 * @param name - the worker's base name, e.g. `embed-worker`.
 * @param ext - the compiled file's extension: `js`, or `cjs` for a CommonJS entry.
 * @returns the absolute path of its compiled JavaScript.
 * @throws {VecforgeError} ERR_WORKER when it has not been built.
 */
export function workerFile(name: string, ext: 'js' | 'cjs' = 'js'): string {
  const here = fileURLToPath(import.meta.url);
  const distRoot = here.endsWith('.ts') ? join(dirname(here), '..', '..', 'dist') : join(dirname(here), '..', '..');
  const file = join(distRoot, 'workers', `${name}.${ext}`);
  if (!existsSync(file)) throw new VecforgeError('ERR_WORKER', `worker file ${file} is missing; run "npm run build" first`);
  return file;
}

/**
 * The embed pool's entry file: a CommonJS file that import()s the ES worker
 * module, so Piscina never takes Node's require(esm) path (see
 * workers/embed-worker-entry.cts for why).
 * @returns the absolute path of dist/workers/embed-worker-entry.cjs.
 * @throws {VecforgeError} ERR_WORKER when it has not been built.
 */
export function embedWorkerEntry(): string {
  return workerFile('embed-worker-entry', 'cjs');
}
