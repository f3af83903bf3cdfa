/**
 * readLines over byte ranges cut at line starts: the ranges, one after
 * another, yield exactly the lines of the whole file (same texts, same
 * failures, numbers shifted by the lines before), wherever the cut was
 * asked for: inside a multi-byte character, between a CR and its LF, in an
 * over-long line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { lineStartAtOrAfter, readLineRuns, readLines, type FileLine } from '../src/io/lines.js';
import { tempDir } from './helpers.js';

async function collect(it: AsyncIterable<FileLine>): Promise<FileLine[]> {
  const out: FileLine[] = [];
  for await (const l of it) out.push(l);
  return out;
}

/** What a line reads as, without the running byte count (which counts from the range's start). */
function plain(l: FileLine, shift: number): string {
  return JSON.stringify(l.state === 'ok' ? { line: l.line + shift, text: l.text } : { line: l.line + shift, code: l.code });
}

/** A file with a BOM, CRLF, blank and CR-only lines, 2-, 3- and 4-byte characters, invalid UTF-8, a line over 40 bytes, no final line end. */
function edgeFile(): { path: string; bytes: Buffer } {
  const bytes = Buffer.concat([
    Buffer.from('\uFEFF{"id":"a","text":"é"}\r\n'),
    Buffer.from('\n'),
    Buffer.from('\r\n'),
    Buffer.from('  \n'),
    Buffer.from('{"id":"漢字","text":"😀😀"}\n'),
    Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]),
    Buffer.from(`{"id":"long","text":"${'Ω'.repeat(30)}"}\r\n`),
    Buffer.from('\r'),
    Buffer.from('\n'),
    Buffer.from('{"id":"b","text":"\uFEFF x"}\r\n'),
    Buffer.from('{"id":"c","text":"last 😀"}'),
  ]);
  const path = join(tempDir(), 'edge.jsonl');
  writeFileSync(path, bytes);
  return { path, bytes };
}

describe('lineStartAtOrAfter', () => {
  test('is, for every byte offset, the first line start at or after it (a LF never falls inside a character or a CRLF)', () => {
    const { path, bytes } = edgeFile();
    const starts = [0];
    for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) starts.push(i + 1);
    let inCharacter = 0;
    for (let offset = 0; offset <= bytes.length + 2; offset++) {
      const want = starts.find((s) => s >= offset) ?? bytes.length;
      expect(lineStartAtOrAfter(path, offset), `offset ${offset}`).toBe(want);
      if (offset < bytes.length && ((bytes[offset] as number) & 0xc0) === 0x80) inCharacter++;
    }
    // The file does hold offsets inside multi-byte characters.
    expect(inCharacter).toBeGreaterThan(10);
  });

  test('finds a line start past a line longer than its 64 KiB read', () => {
    const path = join(tempDir(), 'wide.jsonl');
    writeFileSync(path, `${'x'.repeat(200_000)}\nnext\n`);
    expect(lineStartAtOrAfter(path, 5)).toBe(200_001);
    expect(lineStartAtOrAfter(path, 200_001)).toBe(200_001);
    expect(lineStartAtOrAfter(path, 200_002)).toBe(200_006);
  });
});

describe('readLines over byte ranges', () => {
  test('two ranges cut at any offset yield the whole file\'s lines, numbered from 1 in each range', async () => {
    const { path, bytes } = edgeFile();
    const whole = await collect(readLines(path, { maxLineBytes: 40 }));
    expect(whole.map((l) => l.state)).toContain('failed');
    const expected = whole.map((l) => plain(l, 0));
    for (let offset = 0; offset <= bytes.length; offset++) {
      const cut = lineStartAtOrAfter(path, offset);
      const first = await collect(readLines(path, { maxLineBytes: 40, endByte: cut }));
      const second = await collect(readLines(path, { maxLineBytes: 40, startByte: cut }));
      const before = first.at(-1)?.line ?? 0;
      expect([...first.map((l) => plain(l, 0)), ...second.map((l) => plain(l, before))], `cut at ${cut} (offset ${offset})`).toEqual(expected);
    }
  });

  test('a range of a line longer than a 1 MiB read reports it once as TOO_LARGE, as the whole file does', async () => {
    const path = join(tempDir(), 'big.jsonl');
    writeFileSync(path, `a\n${'é'.repeat(700_000)}\r\nb\n`);
    const cut = lineStartAtOrAfter(path, 1);
    const end = lineStartAtOrAfter(path, 3);
    expect([cut, end]).toEqual([2, 2 + 1_400_000 + 2]);
    const range = await collect(readLines(path, { maxLineBytes: 1 << 20, startByte: cut, endByte: end }));
    expect(range.map((l) => plain(l, 0))).toEqual([JSON.stringify({ line: 1, code: 'TOO_LARGE' })]);
  });

  test('readLineRuns yields, run after run, the lines readLines yields', async () => {
    const path = join(tempDir(), 'runs.jsonl');
    writeFileSync(path, Buffer.concat([edgeFile().bytes, Buffer.from(`\n${'é'.repeat(600_000)}\n${'x'.repeat(3_000_000)}\r\nlast`)]));
    const runs: FileLine[][] = [];
    for await (const run of readLineRuns(path, { maxLineBytes: 2_000_000 })) runs.push([...run]);
    // Reads of 1 MiB: several runs, one of them empty (inside the 3 MB line).
    expect(runs.length).toBeGreaterThan(3);
    expect(runs.some((r) => r.length === 0)).toBe(true);
    expect(runs.flat()).toEqual(await collect(readLines(path, { maxLineBytes: 2_000_000 })));
  });

  test('an empty range yields nothing; a range that is not one is a RangeError naming the option', async () => {
    const { path } = edgeFile();
    expect(await collect(readLines(path, { startByte: 10, endByte: 10 }))).toEqual([]);
    await expect(collect(readLines(path, { startByte: 10, endByte: 9 }))).rejects.toThrow(new RangeError('options.endByte must be an integer ≥ options.startByte (10), got 9'));
    await expect(collect(readLines(path, { startByte: -1 }))).rejects.toThrow(new RangeError('options.startByte must be an integer ≥ 0, got -1'));
  });
});
