import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readNpy } from '../src/io/npy.js';
import { writeTinyBert } from './bert-fixtures.js';
import { kRepoRoot, kTestCacheDir, tempDir } from './helpers.js';

const kBin = join(kRepoRoot, 'bin', 'vecforge.js');

function vecforge(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [kBin, ...args], { encoding: 'utf8', env: { ...process.env, VECFORGE_CACHE_DIR: kTestCacheDir } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('--model DIR', () => {
  test('info --model DIR describes the BERT directory', () => {
    const dir = join(tempDir(), 'tiny-bert');
    writeTinyBert(dir, { pooling: 'cls', normalize: true, maxSeqLength: 32 });
    const r = vecforge(['info', '--model', dir, '--workers', '1', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout) as { model: string; modelId: string; dims: number; modelFiles: Record<string, unknown> };
    expect(info).toMatchObject({ model: dir, dims: 16 });
    expect(info.modelId).toMatch(/^bert:tiny-bert@sha256-/);
    expect(info.modelFiles).toMatchObject({ pooling: 'cls', maxSeqLength: 32, dtype: 'F32', architecture: 'bert (2 layers, hidden 16, 4 heads, FFN 32, gelu)' });
  });

  test('embed --model DIR writes one row per text', () => {
    const tmp = tempDir();
    const dir = join(tmp, 'tiny-bert');
    writeTinyBert(dir);
    const input = join(tmp, 'in.jsonl');
    writeFileSync(input, ['the cat sat', 'Hello, World!', 'unaffable'].map((text, i) => JSON.stringify({ id: `t${i}`, text })).join('\n'));
    const out = join(tmp, 'out.npy');
    const r = vecforge(['embed', '--model', dir, '--input', input, '--output', out, '--workers', '1', '--json']);
    expect(r.status).toBe(0);
    const npy = readNpy(out);
    expect([npy.rows, npy.dims]).toEqual([3, 16]);
  });

  test('a directory missing files fails with the list', () => {
    const dir = tempDir();
    const r = vecforge(['info', '--model', dir, '--workers', '1']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(`model directory ${dir} is missing config.json, vocab.txt or tokenizer.json, model.safetensors; the directory is empty`);
  });
});
