import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CsvScanner, type CsvRawRecord } from '../src/jobs/csv.js';
import { readFileRecords, type SourceRecord } from '../src/jobs/sources.js';
import { kRepoRoot, tempDir } from './helpers.js';

async function records(path: string, maxRecordBytes = 1 << 20): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for await (const batch of readFileRecords(path, { format: 'csv', maxRecordBytes })) out.push(...batch);
  return out;
}

/** Scans bytes pushed `size` at a time. */
function scan(bytes: Buffer, size: number): CsvRawRecord[] {
  const scanner = new CsvScanner({ maxRecordBytes: 1 << 20 });
  const raw: CsvRawRecord[] = [];
  for (let i = 0; i < bytes.length; i += size) raw.push(...scanner.push(bytes.subarray(i, i + size)));
  const last = scanner.end();
  if (last !== undefined) raw.push(last);
  return raw;
}

const decode = (raw: readonly CsvRawRecord[]): string[][] => raw.filter((r) => !r.blank).map((r) => r.fields.map((f) => Buffer.from(f).toString('utf8')));

describe('CSV line ends', () => {
  test('CR-only, LF and CRLF line ends, mixed in one file, give the same records, line numbers and offsets for any chunking', () => {
    const text = 'id,text\rx,"a\rquoted\r\nfield"\ry,plain\r\nz,"q"\r\rw,last\n';
    const bytes = Buffer.from(text, 'utf8');
    for (const size of [1, 2, 3, 5, bytes.length]) {
      const raw = scan(bytes, size);
      expect(decode(raw), `chunks of ${size}`).toEqual([
        ['id', 'text'],
        ['x', 'a\rquoted\r\nfield'],
        ['y', 'plain'],
        ['z', 'q'],
        ['w', 'last'],
      ]);
      // Lines: the quoted CR and CRLF are one line break each; the blank CR-only line is line 6.
      expect(raw.map((r) => [r.line, r.endLine, r.blank])).toEqual([
        [1, 1, false],
        [2, 4, false],
        [5, 5, false],
        [6, 6, false],
        [7, 7, true],
        [8, 8, false],
      ]);
      expect(raw.map((r) => r.endOffset)).toEqual([
        bytes.indexOf('x,'),
        bytes.indexOf('y,'),
        bytes.indexOf('z,'),
        bytes.indexOf('\rw,'),
        bytes.indexOf('w,'),
        bytes.length,
      ]);
    }
  });

  test('a file ending in a lone CR ends its last record there', () => {
    for (const size of [1, 4, 100]) expect(decode(scan(Buffer.from('a,b\r1,2\r'), size))).toEqual([['a', 'b'], ['1', '2']]);
  });

  test('the bundled CSV (CRLF) with LF or CR-only line ends reads the same 200 records (CR-only read 0 before)', async () => {
    const dir = tempDir();
    const original = readFileSync(join(kRepoRoot, 'data', 'sample-corpus.csv'), 'utf8');
    expect(original.split('\r\n')).toHaveLength(202);
    // Line breaks inside quoted fields stay as they are: they are data.
    const lf = join(dir, 'lf.csv');
    const cr = join(dir, 'cr.csv');
    const rows = await records(join(kRepoRoot, 'data', 'sample-corpus.csv'));
    expect(rows).toHaveLength(200);
    const toLineEnds = (eol: string): string => {
      let out = '';
      let quoted = false;
      for (let i = 0; i < original.length; i++) {
        const ch = original[i];
        if (ch === '"') quoted = !quoted;
        if (ch === '\r' && original[i + 1] === '\n' && !quoted) {
          out += eol;
          i++;
        } else out += ch;
      }
      return out;
    };
    writeFileSync(lf, toLineEnds('\n'));
    writeFileSync(cr, toLineEnds('\r'));
    const values = (rs: readonly SourceRecord[]): unknown[] => rs.map((r) => (r.state === 'ok' ? [r.line, r.value] : [r.line, r.code]));
    expect(values(await records(lf))).toEqual(values(rows));
    expect(values(await records(cr))).toEqual(values(rows));
  });
});
