/**
 * Shared helpers of the bench tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

const temps: string[] = [];

/**
 * A fresh temporary directory, removed after the current test.
 * @param prefix - a name prefix.
 * @returns its path.
 */
export function tempDir(prefix = 'vecforge-bench-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});
