/**
 * `vecforge info DIR` looks at the sizes of the published files: a damaged
 * index is reported, naming the file, and the command fails (exit 1) instead
 * of describing it as whole.
 */
import { readdirSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { NpyWriter } from '../src/io/npy.js';
import { tempDir } from './helpers.js';
import { vecforge } from './jobs-helpers.js';

function smallIndex(): string {
  const root = tempDir();
  const npy = join(root, 'v.npy');
  const w = new NpyWriter(npy, 8);
  w.write(Float32Array.from({ length: 8 * 40 }, (_, i) => Math.cos(i * 0.9)));
  w.close();
  const dir = join(root, 'idx');
  const r = vecforge(['build', '--vectors', npy, '--out', dir, '--workers', '1', '--json']);
  expect(r.status, r.stderr).toBe(0);
  return dir;
}

describe('info on a damaged index', () => {
  test('a whole index: exit 0, no warning; a truncated graph: exit 1 naming the file and both sizes, in text and --json', () => {
    const dir = smallIndex();
    const whole = vecforge(['info', dir]);
    expect(whole.status, whole.stderr).toBe(0);
    expect(whole.stderr).toBe('');
    const version = join(dir, 'versions', 'v000001');
    expect(readdirSync(version)).toContain('graph.hnsw');
    truncateSync(join(version, 'graph.hnsw'), 100);
    for (const args of [['info', dir], ['info', dir, '--json']]) {
      const r = vecforge(args);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/is damaged: graph\.hnsw is 100 bytes, the manifest says \d+; run `vecforge verify/);
    }
    const json = JSON.parse(vecforge(['info', dir, '--json']).stdout) as { problems: string[] };
    expect(json.problems).toHaveLength(1);
  });

  test('a missing file is named', () => {
    const dir = smallIndex();
    rmSync(join(dir, 'versions', 'v000001', 'graph.hnsw'));
    const r = vecforge(['info', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('graph.hnsw is missing (ENOENT)');
  });
});
