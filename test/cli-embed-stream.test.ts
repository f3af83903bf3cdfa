import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readEmbedInput } from '../src/cli/embed-input.js';
import { Engine } from '../src/index.js';
import { readNpy } from '../src/io/npy.js';
import { kRepoRoot, kTestCacheDir, tempDir } from './helpers.js';
import { vecforge } from './jobs-helpers.js';

const kSample = readFileSync(join(kRepoRoot, 'data', 'sample-corpus.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l !== '')
  .map((l) => (JSON.parse(l) as { text: string }).text);

/** 20,000 lines (over two of the engine's 8,192-item windows) with a bad line every 997th and an empty text every 1,009th. */
function bigInput(): { lines: string[]; ids: string[]; texts: string[]; bad: number[]; broken: number } {
  const lines: string[] = [];
  const ids: string[] = [];
  const texts: string[] = [];
  const bad: number[] = [];
  let broken = 0;
  for (let i = 0; i < 20_000; i++) {
    if (i % 997 === 500) {
      lines.push(`{"id":"broken${i}"`);
      bad.push(i + 1);
      broken++;
      continue;
    }
    const text = i % 1009 === 7 ? '' : (kSample[i % kSample.length] as string);
    if (text === '') bad.push(i + 1);
    else {
      ids.push(`r${i}`);
      texts.push(text);
    }
    lines.push(JSON.stringify({ id: `r${i}`, text }));
  }
  return { lines, ids, texts, bad, broken };
}

describe('vecforge embed streams windows in input order', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.create({ workers: 1, cacheDir: kTestCacheDir });
  });
  afterAll(async () => {
    await engine.close();
  });

  test('20,000 lines over several windows: rows, ids and errors equal embedding the valid texts directly; stages in --json', async () => {
    const dir = tempDir();
    const input = join(dir, 'in.jsonl');
    const { lines, ids, texts, bad, broken } = bigInput();
    expect(broken).toBeGreaterThan(10);
    expect(bad.length).toBeGreaterThan(broken);
    writeFileSync(input, `${lines.join('\n')}\n`);
    const out = join(dir, 'out.npy');
    const r = vecforge(['embed', '--input', input, '--output', out, '--workers', '2', '--json']);
    expect(r.status, r.stderr).toBe(3);
    const summary = JSON.parse(r.stdout) as { count: number; failed: number; stages: Record<string, Record<string, number>> };
    expect(summary).toMatchObject({ count: ids.length, failed: bad.length });
    expect(summary.stages.read).toMatchObject({ lines: 20_000, records: 20_000 - broken, failed: broken, bytes: Buffer.byteLength(`${lines.join('\n')}\n`) });
    expect(summary.stages.embed).toMatchObject({ windows: 3, items: 20_000 - broken });
    expect(summary.stages.write).toMatchObject({ rows: ids.length, bytes: ids.length * 100 * 4 });
    for (const stage of ['start', 'read', 'embed', 'write', 'run']) expect(summary.stages[stage]?.ms).toBeGreaterThan(0);
    expect(readFileSync(join(dir, 'out.ids.txt'), 'utf8')).toBe(`${ids.join('\n')}\n`);
    const errors = readFileSync(join(dir, 'out.errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; code: string });
    expect(errors.map((e) => e.line).sort((a, b) => a - b)).toEqual(bad);
    expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['MALFORMED_LINE', 'EMPTY']));
    const direct = await engine.embed(texts);
    expect(direct.items.every((item) => item.state === 'ok')).toBe(true);
    const npy = readNpy(out);
    expect([npy.rows, npy.dims]).toEqual([ids.length, 100]);
    expect(Buffer.from(npy.data.buffer).equals(Buffer.from(direct.vectors.buffer, direct.vectors.byteOffset, direct.vectors.byteLength))).toBe(true);
  });
});

describe('readEmbedInput', () => {
  test('cuts chunks by records and by input bytes; line numbers and failures stay with their chunk', async () => {
    const dir = tempDir();
    const input = join(dir, 'in.jsonl');
    const long = 'x'.repeat(300_000);
    writeFileSync(input, ['{"id":"a","text":"one"}', '', '{"id":"b","text":"two"}', 'nope', '{"id":"c","text":"three"}', JSON.stringify({ id: 'd', text: long }), JSON.stringify({ id: 'e', text: long }), JSON.stringify({ id: 'f', text: long }), JSON.stringify({ id: 'g', text: long }), '{"id":"h","text":"end"}'].join('\n'));
    const chunks = [];
    for await (const chunk of readEmbedInput(input, 1 << 20, 2)) chunks.push(chunk);
    expect(chunks.map((c) => c.ids)).toEqual([['a', 'b'], ['c', 'd'], ['e', 'f'], ['g', 'h'], []]);
    expect(chunks.map((c) => Array.from(c.lines))).toEqual([[1, 3], [5, 6], [7, 8], [9, 10], []]);
    expect(chunks[1]?.failures).toEqual([{ line: 4, code: 'MALFORMED_LINE', reason: 'line is not valid JSON' }]);
    const byBytes = [];
    for await (const chunk of readEmbedInput(input, 1 << 20, 100)) byBytes.push(chunk.ids);
    // A chunk ends at the first record past 1 MiB of input.
    expect(byBytes).toEqual([['a', 'b', 'c', 'd', 'e', 'f', 'g'], ['h']]);
    expect(chunks.at(-1)?.linesRead).toBe(10);
  });
});
