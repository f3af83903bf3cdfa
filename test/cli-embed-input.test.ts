import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readNpy } from '../src/io/npy.js';
import { kTestCacheDir, tempDir } from './helpers.js';
import { kBin, vecforge } from './jobs-helpers.js';

function errorsOf(path: string): Array<Record<string, unknown>> {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .sort((a, b) => Number(a.line) - Number(b.line));
}

describe('vecforge embed: ids round-trip through the ids file', () => {
  test('an id with a LF, a CR or a lone surrogate is refused per item (INVALID_ID); ids.txt lines match the rows and feed build --ids', () => {
    const dir = tempDir();
    const input = join(dir, 'in.jsonl');
    const rows = [
      { id: 'a', text: 'the weather is fine today' },
      { id: 'b\nc', text: 'a line break inside the id' },
      { id: 'd', text: 'the river flows to the sea' },
      { id: 'e\rf', text: 'a carriage return inside the id' },
      { id: 'g\ud800', text: 'a lone surrogate inside the id' },
      { id: 'h i\t"j"', text: 'spaces tabs and quotes are fine' },
    ];
    writeFileSync(input, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const out = join(dir, 'out.npy');
    const r = vecforge(['embed', '--input', input, '--output', out, '--workers', '1', '--json']);
    expect(r.status, r.stderr).toBe(3);
    const ids = readFileSync(join(dir, 'out.ids.txt'), 'utf8').split('\n');
    expect(ids.pop()).toBe('');
    expect(ids).toEqual(['a', 'd', 'h i\t"j"']);
    expect(readNpy(out).rows).toBe(ids.length);
    expect(errorsOf(join(dir, 'out.errors.jsonl'))).toEqual([
      { line: 2, id: 'b\nc', code: 'INVALID_ID', reason: 'id holds a line break (LF or CR); ids are written one a line to the ids file' },
      { line: 4, id: 'e\rf', code: 'INVALID_ID', reason: 'id holds a line break (LF or CR); ids are written one a line to the ids file' },
      { line: 5, id: 'g\ud800', code: 'INVALID_ID', reason: 'id holds a lone UTF-16 surrogate' },
    ]);
    const b = vecforge(['build', '--vectors', out, '--ids', join(dir, 'out.ids.txt'), '--out', join(dir, 'idx'), '--workers', '1', '--json']);
    expect(b.status, b.stderr).toBe(0);
    const s = vecforge(['search', join(dir, 'idx'), '--vectors', out, '--k', '1', '--json', '--workers', '1']);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { ids: string[] }).ids[0])).toEqual(ids);
  });
});

describe('vecforge embed: input lines are bounded by --max-record-bytes', () => {
  test('a 24 MiB line without a line end fails alone as TOO_LARGE; the lines after it are embedded', () => {
    const dir = tempDir();
    const input = join(dir, 'big.jsonl');
    const fd = openSync(input, 'w');
    const block = Buffer.alloc(1 << 20, 0x61);
    for (let i = 0; i < 24; i++) writeSync(fd, block);
    writeSync(fd, '\n{"id":"ok","text":"the weather is fine"}\n');
    closeSync(fd);
    const out = join(dir, 'out.npy');
    const r = vecforge(['embed', '--input', input, '--output', out, '--workers', '1', '--max-record-bytes', '1048576', '--json']);
    expect(r.status, r.stderr).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ count: 1, failed: 1 });
    expect(errorsOf(join(dir, 'out.errors.jsonl'))).toEqual([{ line: 1, code: 'TOO_LARGE', reason: 'line is over 1048576 bytes (--max-record-bytes)' }]);
  });

  test('/dev/zero through `head -c 64M`: one TOO_LARGE line, and the command ends', () => {
    const dir = tempDir();
    const out = join(dir, 'out.npy');
    const r = spawnSync('sh', ['-c', `head -c 67108864 /dev/zero | "${process.execPath}" "${kBin}" embed --input /dev/stdin --output "${out}" --workers 1 --max-record-bytes 1048576 --json`], {
      encoding: 'utf8',
      env: { ...process.env, VECFORGE_CACHE_DIR: kTestCacheDir },
    });
    expect(r.status, r.stderr).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({ count: 0, failed: 1 });
    expect(errorsOf(join(dir, 'out.errors.jsonl'))).toEqual([{ line: 1, code: 'TOO_LARGE', reason: 'line is over 1048576 bytes (--max-record-bytes)' }]);
  });

  test('build --vectors --ids reads the ids file bounded: /dev/zero and too many ids fail at once with exit 1', () => {
    const dir = tempDir();
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, '{"id":"a","text":"the weather is fine"}\n{"id":"b","text":"the river flows"}\n');
    const out = join(dir, 'out.npy');
    expect(vecforge(['embed', '--input', input, '--output', out, '--workers', '1']).status).toBe(0);
    const zero = vecforge(['build', '--vectors', out, '--ids', '/dev/zero', '--out', join(dir, 'i1'), '--workers', '1', '--max-record-bytes', '1024']);
    expect(zero.status).toBe(1);
    expect(zero.stderr).toBe('vecforge: /dev/zero:1: line is over 1024 bytes (ERR_INVALID_INPUT)\n');
    const many = join(dir, 'many.txt');
    writeFileSync(many, 'a\nb\nc\n');
    const m = vecforge(['build', '--vectors', out, '--ids', many, '--out', join(dir, 'i2'), '--workers', '1']);
    expect(m.status).toBe(1);
    expect(m.stderr).toBe(`vecforge: ${many} has more than 2 ids but ${out} has 2 rows (ERR_INVALID_INPUT)\n`);
  });
});
