import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readNpy } from '../src/io/npy.js';
import { kRepoRoot, kTestCacheDir, tempDir } from './helpers.js';

const kBin = join(kRepoRoot, 'bin', 'vecforge.js');

function vecforge(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [kBin, ...args], { encoding: 'utf8', env: { ...process.env, VECFORGE_CACHE_DIR: kTestCacheDir } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('vecforge embed', () => {
  test('writes vectors, ids and an errors file with line numbers; exit 3 when rows failed', () => {
    const dir = tempDir();
    const input = join(dir, 'in.jsonl');
    const good = readFileSync(join(kRepoRoot, 'data', 'sample-corpus.jsonl'), 'utf8').split('\n').slice(0, 20);
    const lines = [...good, 'not json', '{"id":"x1"}', '{"text":"no id"}', '{"id":"empty","text":""}', '{"id":"oov","text":"zzqqx vvbbn"}'];
    writeFileSync(input, Buffer.concat([Buffer.from(`${lines.join('\n')}\n`), Buffer.from('{"id":"bad","text":"\xff"}\n', 'latin1')]));
    const out = join(dir, 'out.npy');
    const r = vecforge(['embed', '--input', input, '--output', out, '--workers', '2', '--json']);
    expect(r.status).toBe(3);
    const summary = JSON.parse(r.stdout.trim()) as Record<string, unknown>;
    expect(summary).toMatchObject({ count: 20, failed: 6, backend: 'wasm', workers: 2 });
    expect(typeof summary.itemsPerSecond).toBe('number');
    const npy = readNpy(out);
    expect([npy.rows, npy.dims]).toEqual([20, 100]);
    const ids = readFileSync(join(dir, 'out.ids.txt'), 'utf8').trim().split('\n');
    expect(ids).toEqual(good.map((l) => (JSON.parse(l) as { id: string }).id));
    const errors = readFileSync(join(dir, 'out.errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number });
    // Read errors are written at once, embedding failures when their window ends.
    errors.sort((a, b) => a.line - b.line);
    expect(errors).toEqual([
      { line: 21, code: 'MALFORMED_LINE', reason: 'line is not valid JSON' },
      { line: 22, id: 'x1', code: 'MISSING_TEXT', reason: 'missing or non-string "text"' },
      { line: 23, code: 'MISSING_ID', reason: 'missing or non-string "id"' },
      { line: 24, id: 'empty', code: 'EMPTY', reason: 'text is empty' },
      { line: 25, id: 'oov', code: 'NO_KNOWN_WORDS', reason: 'no word of the text is in the model vocabulary' },
      { line: 26, code: 'INVALID_UTF8', reason: 'line is not valid UTF-8' },
    ]);
  });

  test('bad flags exit 2 with a message naming the flag; a missing input exits 1', () => {
    const bad = vecforge(['embed', '--input', 'x', '--output', 'y.npy', '--workers', '0']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--workers must be an integer in [1, 64], got "0"');
    const missing = vecforge(['embed', '--input', '/nonexistent/in.jsonl', '--output', join(tempDir(), 'o.npy')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('cannot read input /nonexistent/in.jsonl: ENOENT');
  });

  test('info prints backend, model and cache locations', () => {
    const r = vecforge(['info', '--json']);
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout) as { backend: string; model: string; dims: number; cacheDir: string };
    expect(info).toMatchObject({ backend: 'wasm', model: 'glove-100d', dims: 100, cacheDir: kTestCacheDir });
  });

  test('demo finds the expected definitions of the sample queries', () => {
    const r = vecforge(['demo', '--json']);
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout) as { documents: number; queries: number; foundInTop10: number };
    expect(summary.documents).toBeGreaterThan(3000);
    expect(summary.foundInTop10).toBeGreaterThanOrEqual(Math.floor(summary.queries * 0.9));
  });
});
