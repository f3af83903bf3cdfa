/**
 * `vecforge info DIR` looks at the sizes of the published files: a damaged
 * index is reported, naming the file, and the command fails (exit 1) instead
 * of describing it as whole.
 */
import { readdirSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { smallVectorIndex, vecforge } from './jobs-helpers.js';

describe('info on a damaged index', () => {
  test('a whole index: exit 0, no warning; a truncated graph: exit 1 naming the file and both sizes, in text and --json', () => {
    const { dir } = smallVectorIndex();
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
    const { dir } = smallVectorIndex();
    rmSync(join(dir, 'versions', 'v000001', 'graph.hnsw'));
    const r = vecforge(['info', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('graph.hnsw is missing (ENOENT)');
  });
});
