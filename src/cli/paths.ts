/**
 * Locations inside the installed package.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root: the nearest directory above this file holding data/.
 * @returns its path.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'data'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the vecforge package root');
    dir = parent;
  }
}

/**
 * A file of the bundled sample data.
 * @param name - file name inside data/.
 * @returns its path.
 */
export function dataFile(name: string): string {
  return join(packageRoot(), 'data', name);
}
