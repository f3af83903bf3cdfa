import { openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readLines, type FileLine } from '../src/io/lines.js';
import { tempDir } from './helpers.js';

async function collect(it: AsyncIterable<FileLine>): Promise<FileLine[]> {
  const out: FileLine[] = [];
  for await (const l of it) out.push(l);
  return out;
}

/** A file of `bytes` bytes of 'a' and no line end, then `tail`. */
function bigLine(bytes: number, tail: string): string {
  const path = join(tempDir(), 'big.jsonl');
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(1 << 20, 0x61);
  for (let left = bytes; left > 0; left -= block.length) writeSync(fd, block, 0, Math.min(left, block.length));
  writeSync(fd, tail);
  closeSync(fd);
  return path;
}

describe('readLines is bounded by maxLineBytes', () => {
  test('a 48 MiB line without a line end fails once as TOO_LARGE, early, and the lines after it still read', async () => {
    const path = bigLine(48 << 20, '\n{"id":"x"}\r\nlast');
    const before = process.memoryUsage().arrayBuffers;
    const lines: FileLine[] = [];
    let heldAtFailure = Number.POSITIVE_INFINITY;
    for await (const l of readLines(path, { maxLineBytes: 1 << 20 })) {
      if (l.state === 'failed') heldAtFailure = process.memoryUsage().arrayBuffers - before;
      lines.push(l);
    }
    expect(lines.map((l) => (l.state === 'ok' ? [l.line, l.text] : [l.line, l.code, l.reason]))).toEqual([
      [1, 'TOO_LARGE', 'line is over 1048576 bytes'],
      [2, '{"id":"x"}'],
      [3, 'last'],
    ]);
    // Reported within one read (1 MiB) after passing the limit, not at the line's end.
    expect(lines[0]?.bytesRead).toBeLessThanOrEqual(2 << 20);
    expect(heldAtFailure).toBeLessThan(8 << 20);
  });

  test('/dev/zero: the first line is reported as TOO_LARGE after the limit instead of growing forever', async () => {
    let first: FileLine | undefined;
    for await (const l of readLines('/dev/zero', { maxLineBytes: 4096 })) {
      first = l;
      break;
    }
    expect(first).toMatchObject({ state: 'failed', line: 1, code: 'TOO_LARGE', reason: 'line is over 4096 bytes' });
    expect(first?.bytesRead).toBeLessThanOrEqual(1 << 20);
  });

  test('the limit counts bytes without the line end: a line of exactly the limit reads, one byte more fails', async () => {
    const path = join(tempDir(), 'edge.txt');
    const fd = openSync(path, 'w');
    writeSync(fd, `${'b'.repeat(16)}\r\n${'c'.repeat(17)}\n${'d'.repeat(16)}`);
    closeSync(fd);
    const lines = await collect(readLines(path, { maxLineBytes: 16 }));
    expect(lines.map((l) => (l.state === 'ok' ? l.text.length : l.code))).toEqual([16, 'TOO_LARGE', 16]);
  });

  test('maxLineBytes is checked', async () => {
    await expect(collect(readLines('/dev/null', { maxLineBytes: 0 }))).rejects.toThrow(new RangeError('options.maxLineBytes must be a positive integer, got 0'));
  });
});
