import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, openSync, readdirSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ensureGloveCache, gloveCachePath, readGloveCache } from '../src/models/glove/convert.js';
import { kRepoRoot, kTestCacheDir, tempDir } from './helpers.js';

describe('glove-100d cache', () => {
  test('a conversion killed half-way leaves no cache that would be used', async () => {
    const dir = tempDir('vecforge-cache-');
    const script = `import('${join(kRepoRoot, 'dist/src/models/glove/convert.js')}').then((m) => m.ensureGloveCache(${JSON.stringify(dir)}))`;
    const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
    // Kill it the moment its temporary file appears: mid-write.
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (readdirSync(dir).some((f) => f.endsWith('.tmp'))) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolve();
        }
      }, 2);
      child.on('exit', () => {
        clearInterval(timer);
        reject(new Error('conversion finished before it could be interrupted'));
      });
    });
    await new Promise((r) => child.on('exit', r));
    const final = gloveCachePath(dir);
    expect(existsSync(final)).toBe(false);
    // A half-written file at the final name (a crash of a writer that did not
    // rename atomically) must not be used either.
    writeFileSync(final, 'VECFGLV1 half written');
    // The next start converts again and gets a valid table.
    const loaded = ensureGloveCache(dir);
    expect(loaded.converted).toBe(true);
    expect(loaded.header.count).toBe(341_479);
  });

  test('a truncated or corrupt cache file is detected', () => {
    const dir = tempDir('vecforge-cache-');
    const good = gloveCachePath(kTestCacheDir);
    const path = gloveCachePath(dir);
    copyFileSync(good, path);
    truncateSync(path, Math.floor(statSync(good).size / 2));
    expect(readGloveCache(path)).toMatchObject({ error: expect.stringMatching(/^size \d+ bytes, expected \d+$/) });

    copyFileSync(good, path);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from([0x42]), 0, 1, 4096);
    closeSync(fd);
    expect(readGloveCache(path)).toEqual({ error: 'checksum mismatch' });

    writeFileSync(path, 'not a table at all, but longer than one header.'.repeat(4));
    expect(readGloveCache(path)).toEqual({ error: 'bad magic number' });
  });
});
