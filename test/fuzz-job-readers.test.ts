/**
 * Property tests (fast-check, seeded) of the job readers on hostile input:
 * JSONL and CSV files of random bytes and strings, and the known-lines
 * snapshot (input-lines.bin) edited with its manifest entry updated to
 * match, so its parser, not the checksum, meets the edits.
 */
import { hash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { VecforgeError } from '../src/errors.js';
import type { IndexManifest } from '../src/index/persist.js';
import { CsvScanner, type CsvRawRecord } from '../src/jobs/csv.js';
import { KnownLines, encodeLineSnapshot, kLineSnapshotFile, readLineSnapshot } from '../src/jobs/known-lines.js';
import { kLineDigestBytes, lineDigest } from '../src/jobs/line-digests.js';
import { readFileRecords, type SourceRecord } from '../src/jobs/sources.js';
import { tempDir } from './helpers.js';
import { kFuzzRuns, kFuzzSeed } from './fuzz-settings.js';

const kRuns = { seed: kFuzzSeed, numRuns: kFuzzRuns } as const;
const kReadFailures = new Set(['MALFORMED_LINE', 'MALFORMED_RECORD', 'INVALID_UTF8', 'TOO_LARGE', 'CSV_COLUMNS']);

/** Random input: raw bytes, or text made of the characters that matter to the readers. */
const input = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }),
  fc.array(fc.constantFrom('{', '}', '"', ',', '\n', '\r', '\r\n', ':', '\\', '\ufeff', 'id', 'text', 'é', '\u0000', ' ', '[', ']', '1', 'null'), { maxLength: 300 }).map((parts) => Buffer.from(parts.join(''), 'utf8')),
);

/** Every record a reader gives for a file, or the error it threw. */
async function readAll(path: string, format: 'jsonl' | 'csv', maxRecordBytes: number): Promise<{ records: SourceRecord[]; error: unknown }> {
  const records: SourceRecord[] = [];
  try {
    for await (const batch of readFileRecords(path, { format, maxRecordBytes })) records.push(...batch);
    return { records, error: null };
  } catch (error) {
    return { records, error };
  }
}

function checkRecords(records: readonly SourceRecord[], fileBytes: number): void {
  let item = 0;
  let offset = 0;
  for (const r of records) {
    expect(['ok', 'failed']).toContain(r.state);
    if (r.state === 'failed') expect(kReadFailures.has(r.code), r.code).toBe(true);
    else expect(typeof r.value).toBe('object');
    // Positions only move forward, and stay within the file.
    expect(r.at.item).toBe(++item);
    expect(r.at.offset).toBeGreaterThan(offset);
    expect(r.at.offset).toBeLessThanOrEqual(fileBytes);
    offset = r.at.offset;
  }
}

describe('JSONL and CSV readers on random input', () => {
  test.each(['jsonl', 'csv'] as const)('%s: every record is ok or a per-record failure; nothing but a VecforgeError is thrown', async (format) => {
    const path = join(tempDir(), `in.${format}`);
    await fc.assert(
      fc.asyncProperty(input, fc.integer({ min: 1, max: 64 }), async (bytes, maxRecordBytes) => {
        writeFileSync(path, bytes);
        const { records, error } = await readAll(path, format, maxRecordBytes);
        checkRecords(records, bytes.length);
        if (error !== null) {
          // Only a CSV without a usable header fails as a whole, and says so.
          expect(error).toBeInstanceOf(VecforgeError);
          expect(format).toBe('csv');
          expect((error as VecforgeError).code).toBe('ERR_INVALID_INPUT');
        }
      }),
      kRuns,
    );
  });

  test('CSV: any split of random bytes into chunks gives the same records as one push', () => {
    const scan = (bytes: Uint8Array, cuts: readonly number[]): CsvRawRecord[] => {
      const scanner = new CsvScanner({ maxRecordBytes: 32 });
      const out: CsvRawRecord[] = [];
      let at = 0;
      for (const cut of [...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length]) {
        out.push(...scanner.push(bytes.subarray(at, Math.max(at, cut))));
        at = Math.max(at, cut);
      }
      const last = scanner.end();
      if (last !== undefined) out.push(last);
      return out;
    };
    fc.assert(
      fc.property(input, fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        expect(scan(bytes, cuts)).toEqual(scan(bytes, []));
      }),
      kRuns,
    );
  });
});

describe('the known-lines snapshot on edited bytes (checksum updated)', () => {
  const key = '{"model":"glove-100d"}';
  const ids = Array.from({ length: 20 }, (_, i) => `id-${i}`);
  const digests = Buffer.concat(ids.map((id) => lineDigest(Buffer.from(`{"id":"${id}"}`))));
  const valid = encodeLineSnapshot({ key, digests, ids });

  /** A version directory holding `bytes` as its snapshot, with a manifest entry that matches them. */
  function version(dir: string, bytes: Uint8Array, size = bytes.length): { path: string; manifest: IndexManifest } {
    writeFileSync(join(dir, kLineSnapshotFile), bytes);
    const lines = { file: kLineSnapshotFile, bytes: size, sha256: hash('sha256', bytes, 'hex') };
    return { path: dir, manifest: { extra: { job: { lines } } } as unknown as IndexManifest };
  }

  test('the valid snapshot reads, and finds its lines', () => {
    const known = readLineSnapshot(version(tempDir(), valid), key);
    expect(known).toBeInstanceOf(KnownLines);
    expect(known?.find(new Int32Array(digests.buffer, digests.byteOffset + 3 * kLineDigestBytes, 8), 0)).toBe(3);
  });

  const edits = fc.oneof(
    // Bytes overwritten anywhere (the header's count and key length included).
    fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }).map((list) => (b: Buffer) => {
      const out = Buffer.from(b);
      for (const { at, byte } of list) out[at % out.length] = byte;
      return out;
    }),
    // A count or key length set to a huge value.
    fc.record({ field: fc.constantFrom(8, 12), value: fc.integer({ min: 0, max: 0xffffffff }) }).map(({ field, value }) => (b: Buffer) => {
      const out = Buffer.from(b);
      out.writeUInt32LE(value, field);
      return out;
    }),
    // Cut short, or grown with random bytes.
    fc.nat().map((n) => (b: Buffer) => b.subarray(0, n % b.length)),
    fc.uint8Array({ minLength: 1, maxLength: 256 }).map((more) => (b: Buffer) => Buffer.concat([b, more])),
    // Random bytes altogether.
    fc.uint8Array({ maxLength: 512 }).map((bytes) => () => Buffer.from(bytes)),
  );

  test('reads, or is not used (null); never throws; what it reads answers lookups', () => {
    const dir = tempDir();
    fc.assert(
      fc.property(edits, (edit) => {
        const known = readLineSnapshot(version(dir, edit(valid)), key);
        if (known === null) return;
        expect(known).toBeInstanceOf(KnownLines);
        const positions = new Int32Array(ids.length);
        known.findBlock(new Int32Array(digests.buffer, digests.byteOffset, digests.length / 4), ids.length, positions);
        for (const p of positions) expect(p).toBeGreaterThanOrEqual(-1);
      }),
      kRuns,
    );
  });

  test('a snapshot that is a link to /dev/zero or a FIFO, or of another size than its entry says, is not used, without reading it', () => {
    const dir = tempDir();
    const v = version(dir, valid);
    writeFileSync(join(dir, kLineSnapshotFile), Buffer.concat([valid, Buffer.alloc(1)]));
    expect(readLineSnapshot(v, key)).toBeNull();
    for (const make of [(p: string) => symlinkSync('/dev/zero', p), (p: string) => execFileSync('mkfifo', [p])]) {
      const d = tempDir();
      const w = version(d, valid);
      execFileSync('rm', [join(d, kLineSnapshotFile)]);
      make(join(d, kLineSnapshotFile));
      expect(readLineSnapshot(w, key)).toBeNull();
    }
  });
});
