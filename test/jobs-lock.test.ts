import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex } from '../src/index.js';
import { acquireLock } from '../src/jobs/lock.js';
import { corpusRows, vecforge, writeJsonl } from './jobs-helpers.js';
import { kTestCacheDir, tempDir } from './helpers.js';

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 1, backend: 'wasm' });
});
afterAll(async () => {
  await engine.close();
});

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

function writeLock(dir: string, pid: number, startedAt = '2026-01-01T00:00:00.000Z'): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '.lock'), `${JSON.stringify({ pid, hostname: hostname(), startedAt, command: 'vecforge build --input x --out y' })}\n`);
}

describe('the index lock', () => {
  test('a lock held by a live process is refused with a clear message, by the API and by the CLI (exit 1)', async () => {
    const dir = tempDir();
    const out = join(dir, 'idx');
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      const pid = sleeper.pid ?? 0;
      // Locked after the holder started: a lock older than its pid's process is a reused pid, and dead.
      const startedAt = new Date().toISOString();
      writeLock(out, pid, startedAt);
      const input = writeJsonl(join(dir, 'in.jsonl'), corpusRows().slice(0, 10));
      const message = `${out} is locked by process ${pid} on ${hostname()} (vecforge build --input x --out y, started ${startedAt}); wait for it to finish, or remove ${join(out, '.lock')} if that process is not a vecforge job`;
      await expect(buildIndex({ source: input, out, engine })).rejects.toMatchObject({ code: 'ERR_LOCKED', message });
      const r = vecforge(['build', '--input', input, '--out', out]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`vecforge: ${message} (ERR_LOCKED)\n`);
      // The refused job left the lock alone.
      expect(JSON.parse(readFileSync(join(out, '.lock'), 'utf8'))).toMatchObject({ pid });
    } finally {
      sleeper.kill();
    }
  });

  test('a lock left by a dead process is taken over, and released at the end', async () => {
    const dir = tempDir();
    const out = join(dir, 'idx');
    const pid = deadPid();
    writeLock(out, pid);
    const s = await buildIndex({ source: writeJsonl(join(dir, 'in.jsonl'), corpusRows().slice(0, 10)), out, engine, embeddingCache: false });
    expect(s).toMatchObject({ state: 'ok', tookOverLockOf: pid });
    expect(() => readFileSync(join(out, '.lock'))).toThrow();
  });

  test('two jobs at once: exactly one gets the lock', () => {
    const dir = tempDir();
    const a = acquireLock(dir, 'first');
    try {
      expect(() => acquireLock(dir, 'second')).toThrow(expect.objectContaining({ code: 'ERR_LOCKED' }) as Error);
    } finally {
      a.release();
    }
    const b = acquireLock(dir, 'third');
    expect(b.tookOver).toBeNull();
    b.release();
  });
});
