import { execFileSync, spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { NpyWriter } from '../src/io/npy.js';
import { ensureUsableDir } from '../src/io/usable-dir.js';
import { kRepoRoot, kTestCacheDir, tempDir } from './helpers.js';
import { kBin, kCorpus, vecforge } from './jobs-helpers.js';

const kProcMessage = (what: string, dir: string, existing: string): string =>
  `${what} ${dir} cannot be used: ${existing} is on a proc filesystem, which holds no files; choose a directory on a disk`;

describe('directories are checked with a bounded operation before long work', () => {
  test('ensureUsableDir: creates missing components, leaves no probe behind, refuses /proc, /sys and a file in the path', () => {
    const dir = tempDir();
    const deep = join(dir, 'a', 'b', 'c');
    ensureUsableDir(deep, { what: 'output directory' });
    expect(readdirSync(deep)).toEqual([]);
    expect(() => ensureUsableDir('/proc/self/vf/x', { what: 'output directory' })).toThrow(
      expect.objectContaining({ code: 'ERR_IO', message: kProcMessage('output directory', '/proc/self/vf/x', '/proc/self') }) as Error,
    );
    expect(() => ensureUsableDir('/sys/vf', { what: 'cache directory', code: 'ERR_CACHE' })).toThrow(
      expect.objectContaining({ code: 'ERR_CACHE', message: 'cache directory /sys/vf cannot be used: /sys is on a sysfs filesystem, which holds no files; choose a directory on a disk' }) as Error,
    );
    writeFileSync(join(dir, 'file'), 'x');
    expect(() => ensureUsableDir(join(dir, 'file', 'sub'), { what: 'output directory' })).toThrow(
      expect.objectContaining({ code: 'ERR_IO', message: `output directory ${join(dir, 'file', 'sub')} cannot be used: ${join(dir, 'file', 'sub')}: ENOTDIR` }) as Error,
    );
    expect(existsSync(join(dir, 'file', 'sub'))).toBe(false);
  });

  test('Engine.create with a cache directory under /proc rejects with ERR_CACHE before converting the model', async () => {
    await expect(Engine.create({ cacheDir: '/proc/self/vecforge-cache', workers: 1, backend: 'wasm' })).rejects.toMatchObject({
      code: 'ERR_CACHE',
      message: kProcMessage('cache directory', '/proc/self/vecforge-cache', '/proc/self'),
    });
  });

  test('build --cache-dir /proc/self/..., build --out /proc/self/..., build --vectors --out /sys/..., embed --output /proc/...: exit 1 at once', () => {
    const dir = tempDir();
    const npy = join(dir, 'v.npy');
    const w = new NpyWriter(npy, 4);
    w.write(Float32Array.from([1, 2, 3, 4]));
    w.close();
    const cases: Array<[string[], string]> = [
      [['build', '--input', kCorpus, '--out', join(dir, 'a'), '--cache-dir', '/proc/self/vecforge-cache'], `${kProcMessage('cache directory', '/proc/self/vecforge-cache', '/proc/self')} (ERR_CACHE)`],
      [['build', '--input', kCorpus, '--out', '/proc/self/vecforge-out'], `${kProcMessage('output directory', '/proc/self/vecforge-out', '/proc/self')} (ERR_IO)`],
      [['build', '--vectors', npy, '--out', '/sys/vecforge-out'], 'output directory /sys/vecforge-out cannot be used: /sys is on a sysfs filesystem, which holds no files; choose a directory on a disk (ERR_IO)'],
      [['embed', '--input', kCorpus, '--output', '/proc/self/out.npy'], `${kProcMessage('output directory', '/proc/self', '/proc/self')} (ERR_IO)`],
    ];
    for (const [args, message] of cases) {
      const started = performance.now();
      const r = vecforge([...args, '--workers', '1']);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toBe(`vecforge: ${message}\n`);
      // No model conversion, no embedding: a few calls and out (the bound is generous for a loaded machine).
      expect(performance.now() - started).toBeLessThan(15_000);
    }
  });
});

describe('signals work from the start of the command', () => {
  test('SIGTERM while search waits for its queries (no job running) ends the command at once, with a word', async () => {
    const dir = tempDir();
    const npy = join(dir, 'v.npy');
    const w = new NpyWriter(npy, 4);
    w.write(Float32Array.from({ length: 40 }, (_, i) => Math.cos(i)));
    w.close();
    mkdirSync(join(dir, 'idx'));
    expect(vecforge(['build', '--vectors', npy, '--out', join(dir, 'idx'), '--workers', '1']).status).toBe(0);
    // The queries come from a FIFO: opening its write end completes once the command has opened it to read, past start-up.
    const fifo = join(dir, 'queries.fifo');
    execFileSync('mkfifo', [fifo]);
    const child = spawn(process.execPath, [kBin, 'search', join(dir, 'idx'), '--queries', fifo, '--json', '--workers', '1'], {
      cwd: kRepoRoot,
      env: { ...process.env, VECFORGE_CACHE_DIR: kTestCacheDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, signal) => resolve([code, signal])));
    const writer = await open(fifo, 'w');
    child.kill('SIGTERM');
    const [code, signal] = await closed;
    await writer.close();
    expect([code, signal]).toEqual([null, 'SIGTERM']);
    expect(stderr).toBe('\nvecforge: interrupted (SIGTERM)\n');
  });
});
