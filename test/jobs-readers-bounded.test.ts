import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine, buildIndex } from '../src/index.js';
import { readFileRecords, readIterableRecords, type SourceRecord } from '../src/jobs/sources.js';
import { kTestCacheDir, tempDir } from './helpers.js';

const kMiB = 1 << 20;
/** The huge records: 48 times the cap of 1 MiB. */
const kHugeBytes = 48 * kMiB;
/**
 * What the heap may grow by while a huge record is read: a few reads, the
 * cap, and the garbage of reads not yet collected (22 MiB seen under load);
 * a reader that held the record would need its 48 MiB on top.
 */
const kHeldBytesBound = 36 * kMiB;

/**
 * Writes the `before` lines, `bytes` bytes of one line without a line
 * break (written in 1 MiB pieces), then, unless `after` is null, a line
 * break and the `after` lines.
 */
function writeHuge(path: string, before: readonly string[], bytes: number, fill: string, after: readonly string[] | null): string {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, before.map((l) => `${l}\n`).join(''));
    const piece = Buffer.alloc(kMiB, fill);
    for (let n = 0; n < bytes; n += kMiB) writeSync(fd, piece, 0, Math.min(kMiB, bytes - n));
    if (after !== null) writeSync(fd, `\n${after.map((l) => `${l}\n`).join('')}`);
  } finally {
    closeSync(fd);
  }
  return path;
}

/** Reads every record, sampling the memory the process holds after each batch. */
async function readSampling(records: AsyncIterable<SourceRecord[]>): Promise<{ records: SourceRecord[]; grewBytes: number }> {
  const held = (): number => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const start = held();
  let peak = start;
  const out: SourceRecord[] = [];
  for await (const batch of records) {
    out.push(...batch);
    peak = Math.max(peak, held());
  }
  return { records: out, grewBytes: peak - start };
}

const summary = (rs: readonly SourceRecord[]): unknown[] => rs.map((r) => (r.state === 'ok' ? [r.line, 'ok'] : [r.line, r.code, r.reason]));

describe('every job reader is bounded by maxRecordBytes', () => {
  test('JSONL: one 48 MiB line among good lines fails alone as TOO_LARGE; the reader never holds it', async () => {
    const good = ['{"id":"a","text":"first"}', '{"id":"b","text":"second"}'];
    const path = writeHuge(join(tempDir(), 'huge.jsonl'), good, kHugeBytes, 'x', good);
    const r = await readSampling(readFileRecords(path, { format: 'jsonl', maxRecordBytes: kMiB }));
    expect(summary(r.records)).toEqual([[1, 'ok'], [2, 'ok'], [3, 'TOO_LARGE', `line is over ${kMiB} bytes`], [4, 'ok'], [5, 'ok']]);
    expect(r.grewBytes).toBeLessThan(kHeldBytesBound);
  });

  test('JSONL: a file of one 48 MiB line without a line break is one TOO_LARGE record', async () => {
    const path = writeHuge(join(tempDir(), 'nonl.jsonl'), [], kHugeBytes, '{', null);
    const r = await readSampling(readFileRecords(path, { format: 'jsonl', maxRecordBytes: kMiB }));
    expect(summary(r.records)).toEqual([[1, 'TOO_LARGE', `line is over ${kMiB} bytes`]]);
    expect(r.grewBytes).toBeLessThan(kHeldBytesBound);
  });

  test('CSV: one 48 MiB row among good rows fails alone as TOO_LARGE; the reader never holds it', async () => {
    const good = ['id,text', 'a,first', 'b,second'];
    const path = writeHuge(join(tempDir(), 'huge.csv'), good, kHugeBytes, 'x', good.slice(1));
    const r = await readSampling(readFileRecords(path, { format: 'csv', maxRecordBytes: kMiB }));
    expect(summary(r.records)).toEqual([[2, 'ok'], [3, 'ok'], [4, 'TOO_LARGE', `record is over ${kMiB} bytes`], [5, 'ok'], [6, 'ok']]);
    expect(r.grewBytes).toBeLessThan(kHeldBytesBound);
  });

  test('CSV: a file of one 48 MiB line without a line break (its header) fails the job with a clear error', async () => {
    const path = writeHuge(join(tempDir(), 'nonl.csv'), [], kHugeBytes, 'x', null);
    await expect(readSampling(readFileRecords(path, { format: 'csv', maxRecordBytes: kMiB }))).rejects.toMatchObject({
      code: 'ERR_INVALID_INPUT',
      message: `${path}: the CSV header on line 1 is malformed: record is over ${kMiB} bytes`,
    });
  });

  test('iterable: an object over the cap as JSON, deep or cyclic, fails alone as TOO_LARGE in bounded work', async () => {
    const cyclic: Record<string, unknown> = { id: 'c', text: 'cyclic' };
    cyclic.metadata = { self: cyclic };
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 400_000; i++) deep = { d: deep };
    const items = [
      { id: 'a', text: 'small' },
      { id: 'big', text: 'y'.repeat(2 * kMiB) },
      { id: 'wide', text: 'w', metadata: { tags: Array.from({ length: 300_000 }, (_, i) => i) } },
      { id: 'deep', text: 'd', metadata: deep },
      cyclic,
      { id: 'b', text: 'é'.repeat(400_000) }, // 800,000 bytes: under the cap
      { id: 'c', text: 'é'.repeat(600_000) }, // 1,200,000 bytes: over it, though 600,000 characters
    ];
    const r = await readSampling(readIterableRecords(items, { maxRecordBytes: kMiB }));
    const tooLarge = `item is over ${kMiB} bytes as JSON`;
    expect(summary(r.records)).toEqual([[1, 'ok'], [2, 'TOO_LARGE', tooLarge], [3, 'TOO_LARGE', tooLarge], [4, 'TOO_LARGE', tooLarge], [5, 'TOO_LARGE', tooLarge], [6, 'ok'], [7, 'TOO_LARGE', tooLarge]]);
  });
});

describe('a job over a huge record', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 2, backend: 'wasm' });
  });
  afterAll(async () => {
    await engine.close();
  });

  test.each(['file', 'iterable'] as const)('%s: the huge record goes to errors.jsonl, the rest is indexed', async (kind) => {
    const dir = tempDir();
    const source = kind === 'file' ? writeHuge(join(dir, 'in.jsonl'), ['{"id":"a","text":"a small brown dog"}'], 4 * kMiB, 'x', ['{"id":"b","text":"a large black cat"}']) : [{ id: 'a', text: 'a small brown dog' }, { id: 'huge', text: 'x'.repeat(4 * kMiB) }, { id: 'b', text: 'a large black cat' }];
    const s = await buildIndex({ source, out: join(dir, 'idx'), engine, embeddingCache: false, maxRecordBytes: kMiB });
    expect(s).toMatchObject({ state: 'partial', counts: { added: 2, failed: 1 } });
    const errors = readFileSync(join(dir, 'idx', 'errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(errors).toEqual([expect.objectContaining({ line: 2, code: 'TOO_LARGE' })]);
  });
});
