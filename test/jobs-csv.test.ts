import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CsvScanner, parseCsv } from '../src/jobs/csv.js';
import { readFileRecords, type SourceRecord } from '../src/jobs/sources.js';
import { kRepoRoot, tempDir } from './helpers.js';

async function records(path: string, format: 'csv' | 'jsonl', maxRecordBytes = 1 << 20): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for await (const batch of readFileRecords(path, { format, maxRecordBytes })) out.push(...batch);
  return out;
}

describe('CSV (RFC 4180)', () => {
  test('quoted fields hold commas, doubled quotes and line breaks; CRLF and LF both end records', () => {
    const text = 'id,text\r\na,"one, two"\r\nb,"say ""hi"""\nc,"line one\r\nline two"\r\nd,plain\r\n"e",""\r\n';
    expect(parseCsv(text)).toEqual([
      ['id', 'text'],
      ['a', 'one, two'],
      ['b', 'say "hi"'],
      ['c', 'line one\r\nline two'],
      ['d', 'plain'],
      ['e', ''],
    ]);
  });

  test('a record without a final line break, blank lines, empty fields', () => {
    expect(parseCsv('a,b\n\n1,\n,2')).toEqual([
      ['a', 'b'],
      ['1', ''],
      ['', '2'],
    ]);
  });

  test('any split of the bytes into chunks gives the same records', () => {
    const text = 'id,text\r\nx,"a ""quoted"" text, with commas\r\nand a line break"\r\ny,"é, ü — ok"\r\n';
    const bytes = Buffer.from(text, 'utf8');
    const whole = parseCsv(text);
    for (const size of [1, 2, 3, 7]) {
      const scanner = new CsvScanner({ maxRecordBytes: 1 << 20 });
      const raw = [];
      for (let i = 0; i < bytes.length; i += size) raw.push(...scanner.push(bytes.subarray(i, i + size)));
      const last = scanner.end();
      if (last !== undefined) raw.push(last);
      const decoded = raw.filter((r) => !r.blank).map((r) => r.fields.map((f) => Buffer.from(f).toString('utf8')));
      expect(decoded).toEqual(whole);
      expect(raw.map((r) => r.endOffset)).toEqual([bytes.indexOf('x,'), bytes.indexOf('y,'), bytes.length]);
    }
  });

  test('malformed quoting is reported on the record, which still ends at its line break', () => {
    const scanner = new CsvScanner({ maxRecordBytes: 1 << 20 });
    const raw = [...scanner.push(Buffer.from('a,b\nx"y,1\n"p"q,2\nok,3\n"open,4\nstill open\n'))];
    const last = scanner.end();
    if (last !== undefined) raw.push(last);
    expect(raw.map((r) => [r.line, r.error?.reason ?? null])).toEqual([
      [1, null],
      [2, 'a double quote inside an unquoted field'],
      [3, 'a character after the closing double quote of a field'],
      [4, null],
      [5, 'a quoted field is not terminated before the end of the file'],
    ]);
  });

  test('the bundled CSV is the first 200 rows of the JSONL corpus', async () => {
    const csv = await records(join(kRepoRoot, 'data', 'sample-corpus.csv'), 'csv');
    const jsonl = readFileSync(join(kRepoRoot, 'data', 'sample-corpus.jsonl'), 'utf8').split('\n').slice(0, 200).map((l) => JSON.parse(l) as { id: string; text: string; namespace: string });
    expect(csv).toHaveLength(200);
    csv.forEach((r, i) => {
      expect(r.state).toBe('ok');
      if (r.state === 'ok') expect(r.value).toEqual({ id: jsonl[i]?.id, text: jsonl[i]?.text, namespace: jsonl[i]?.namespace });
    });
    expect(csv.some((r) => r.state === 'ok' && String(r.value.text).includes('"'))).toBe(true);
    expect(csv.some((r) => r.state === 'ok' && String(r.value.text).includes(','))).toBe(true);
  });

  test('file records: wrong column counts, invalid UTF-8, oversized records, a BOM, line numbers of multi-line records', async () => {
    const path = join(tempDir(), 'in.csv');
    writeFileSync(
      path,
      Buffer.concat([
        Buffer.from('\ufeffid,text,namespace\n"a","two\nlines",noun\nb,short\nc,"x",noun,extra\n', 'utf8'),
        Buffer.from('d,"\xff",noun\n', 'latin1'),
        Buffer.from(`e,"${'z'.repeat(2000)}",noun\nf,last,verb`, 'utf8'),
      ]),
    );
    const rs = await records(path, 'csv', 1024);
    expect(rs.map((r) => (r.state === 'ok' ? [r.line, r.value.id] : [r.line, r.code, r.reason]))).toEqual([
      [2, 'a'],
      [4, 'CSV_COLUMNS', 'row has 2 fields, the header has 3'],
      [5, 'CSV_COLUMNS', 'row has 4 fields, the header has 3'],
      [6, 'INVALID_UTF8', 'record is not valid UTF-8'],
      [7, 'TOO_LARGE', 'record is over 1024 bytes'],
      [8, 'f'],
    ]);
    expect(rs.map((r) => r.at.item)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('a CSV with a repeated column name is refused as a whole', async () => {
    const path = join(tempDir(), 'dup.csv');
    writeFileSync(path, 'id,text,id\n1,a,b\n');
    await expect(records(path, 'csv')).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT', message: `${path}: the CSV header names column "id" twice` });
  });
});

describe('JSONL records', () => {
  test('line numbers, byte offsets past each record, blank lines skipped, oversized lines dropped unread', async () => {
    const path = join(tempDir(), 'in.jsonl');
    const lines = ['{"id":"a","text":"x"}', '', `{"id":"big","text":"${'y'.repeat(5000)}"}`, '{"id":"b","text":"z"}\r'];
    writeFileSync(path, `${lines.join('\n')}\n`);
    const rs = await records(path, 'jsonl', 1024);
    expect(rs.map((r) => [r.line, r.state, r.at.item, r.at.offset])).toEqual([
      [1, 'ok', 1, 22],
      [3, 'failed', 2, 22 + 1 + lines[2]!.length + 1],
      [4, 'ok', 3, 22 + 1 + lines[2]!.length + 1 + 23],
    ]);
    expect(rs[1]).toMatchObject({ code: 'TOO_LARGE', reason: 'line is over 1024 bytes' });
  });
});
