/**
 * Where the bench package finds things: the vecforge repository root (its
 * reports/, .cache/, data/, bin/ and README.md) and this package's own root
 * (the C++ baselines and compiled workers).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VecforgeError } from 'vecforge';

function findUp(name: string, what: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === name) return dir;
      } catch {
        // Not a readable package.json; keep walking up.
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new VecforgeError('ERR_IO', `cannot find ${what}`);
    dir = parent;
  }
}

/**
 * The vecforge repository root: the nearest ancestor with vecforge's
 * package.json (works from `bench/src/` and from `bench/dist/`).
 * @returns the absolute root directory.
 * @throws {VecforgeError} `ERR_IO` when none is found.
 */
export function repoRoot(): string {
  return findUp('vecforge', 'the vecforge repository root');
}

/**
 * The bench package's root (`bench/`).
 * @returns the absolute directory.
 * @throws {VecforgeError} `ERR_IO` when none is found.
 */
export function benchRoot(): string {
  return findUp('@vecforge/bench', 'the @vecforge/bench package root');
}

/**
 * A compiled bench worker. Workers always run compiled JavaScript from
 * bench/dist/workers, also when the suites run from TypeScript (vitest).
 * @param name - the worker's base name, e.g. `exchange-worker`.
 * @returns its absolute path.
 * @throws {VecforgeError} `ERR_WORKER` when it has not been built.
 */
export function benchWorkerFile(name: string): string {
  const file = path.join(benchRoot(), 'dist', 'workers', `${name}.js`);
  if (!existsSync(file)) throw new VecforgeError('ERR_WORKER', `worker file ${file} is missing; run "npm run build" first`);
  return file;
}
