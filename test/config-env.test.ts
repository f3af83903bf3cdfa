import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readConfigFile, resolveConfig, resolveEngineOptions } from '../src/config/resolve.js';
import { tempDir } from './helpers.js';
import { kBin, vecforge } from './jobs-helpers.js';

describe('environment variables are named in messages', () => {
  test.each([
    ['VECFORGE_WORKERS', '0', RangeError, 'environment variable VECFORGE_WORKERS must be an integer in [1, 64], got "0"'],
    ['VECFORGE_ENGINE__WORKERS', '0', RangeError, 'environment variable VECFORGE_ENGINE__WORKERS must be an integer in [1, 64], got "0"'],
    ['VECFORGE_ENGINE__BATCH_TOKENS', '8', RangeError, 'environment variable VECFORGE_ENGINE__BATCH_TOKENS must be an integer in [16, 1000000], got "8"'],
    ['VECFORGE_BACKEND', 'metal', RangeError, 'environment variable VECFORGE_BACKEND must be one of "auto", "tensorflow-gpu", "tensorflow", "wasm", "cpu", got "metal"'],
    ['VECFORGE_CACHE_DIR', '', RangeError, 'environment variable VECFORGE_CACHE_DIR must be a non-empty string, got ""'],
  ])('%s=%j', (name, value, type, message) => {
    expect(() => resolveEngineOptions({ env: { [name]: value } })).toThrow(new type(message));
  });
});

describe('numbers from strings must be decimal', () => {
  test.each(['0x2', '0o2', '0b10', '2e0', ' 2', '2 ', '+2', 'Infinity', ''])('VECFORGE_WORKERS=%j is refused', (value) => {
    expect(() => resolveEngineOptions({ env: { VECFORGE_WORKERS: value } })).toThrow(
      new TypeError(`environment variable VECFORGE_WORKERS must be an integer in [1, 64], got ${JSON.stringify(value)}`),
    );
  });

  test('decimal integers and decimal fractions are read', () => {
    expect(resolveEngineOptions({ env: { VECFORGE_WORKERS: '2' } }).workers).toBe(2);
    const config = resolveConfig({ env: { VECFORGE_JOB__CHECKPOINT_SECONDS: '2.5', VECFORGE_JOB__CHECKPOINT_ITEMS: '0100' } });
    expect(config.job.checkpointSeconds).toBe(2.5);
    expect(config.job.checkpointItems).toBe(100);
    expect(() => resolveConfig({ env: { VECFORGE_JOB__CHECKPOINT_SECONDS: '0x10' } })).toThrow(
      new TypeError('environment variable VECFORGE_JOB__CHECKPOINT_SECONDS must be a number in [0, 86400], got "0x10"'),
    );
  });

  test('a flag: --workers 0x2 and --k 1e1 exit 2 naming the flag', () => {
    const w = vecforge(['config', '--workers', '0x2']);
    expect(w.status).toBe(2);
    expect(w.stderr).toContain('--workers must be an integer in [1, 64], got "0x2"');
    const k = vecforge(['search', 'dir', '--query', 'x', '--k', '1e1']);
    expect(k.status).toBe(2);
    expect(k.stderr).toContain('--k must be an integer in [1, 65536], got "1e1"');
  });

  test('a YAML config file: 0x2, 0o7, 1e3 are refused; quoted they are strings', () => {
    const dir = tempDir();
    const file = join(dir, 'vecforge.config.yaml');
    for (const raw of ['0x2', '0o7', '1e3']) {
      writeFileSync(file, `engine:\n  workers: ${raw}\n`);
      expect(() => readConfigFile(file)).toThrow(
        expect.objectContaining({ code: 'ERR_CONFIG', message: `config file ${file}: "${raw}" is not a decimal number; write numbers in decimal (or quote it to mean a string)` }) as Error,
      );
    }
    writeFileSync(file, 'engine:\n  workers: 2\njob:\n  checkpointSeconds: 2.5\n  idField: "0x2"\n');
    expect(readConfigFile(file)).toEqual({ engine: { workers: 2 }, job: { checkpointSeconds: 2.5, idField: '0x2' } });
    const r = vecforge(['config'], { cwd: dir });
    writeFileSync(file, 'engine:\n  workers: 0x2\n');
    const bad = vecforge(['config'], { cwd: dir });
    expect(r.status, r.stderr).toBe(0);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(`vecforge: config file ${file}: "0x2" is not a decimal number; write numbers in decimal (or quote it to mean a string) (ERR_CONFIG)\n`);
  });
});

describe('the default cache directory needs an absolute HOME or XDG_CACHE_HOME', () => {
  const kRelativeHome =
    'environment variable HOME is a relative path ("rel-home"), so the default cache directory would depend on the working directory; set HOME or XDG_CACHE_HOME to an absolute path, or VECFORGE_CACHE_DIR (options.cacheDir, --cache-dir)';

  test('a relative HOME is refused when the default is used; a relative XDG_CACHE_HOME is ignored', () => {
    expect(() => resolveEngineOptions({ env: { HOME: 'rel-home' } })).toThrow(new RangeError(kRelativeHome));
    expect(resolveEngineOptions({ env: { HOME: 'rel-home', VECFORGE_CACHE_DIR: '/tmp/c' } }).cacheDir).toBe('/tmp/c');
    expect(resolveEngineOptions({ env: { HOME: 'rel-home' }, options: { cacheDir: '/tmp/o' } }).cacheDir).toBe('/tmp/o');
    expect(resolveEngineOptions({ env: { HOME: 'rel-home', XDG_CACHE_HOME: '/tmp/xdg' } }).cacheDir).toBe('/tmp/xdg/vecforge');
    expect(resolveEngineOptions({ env: { HOME: '/home/u', XDG_CACHE_HOME: 'rel-xdg' } }).cacheDir).toBe('/home/u/.cache/vecforge');
    expect(resolveEngineOptions({ env: { HOME: '/home/u' } }).cacheDir).toBe('/home/u/.cache/vecforge');
  });

  test('the CLI exits 2 and creates nothing in the working directory', () => {
    const cwd = tempDir();
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: 'rel-home' };
    delete env.VECFORGE_CACHE_DIR;
    delete env.XDG_CACHE_HOME;
    const r = spawnSync(process.execPath, [kBin, 'info'], { cwd, env, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`vecforge: ${kRelativeHome}\n`);
    expect(existsSync(join(cwd, 'rel-home'))).toBe(false);
  });
});
