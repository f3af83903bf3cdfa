import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readFileRecords, type SourceRecord } from '../src/jobs/sources.js';
import { tempDir } from './helpers.js';

async function readAll(path: string, maxRecordBytes = 1 << 20): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  for await (const batch of readFileRecords(path, { format: 'jsonl', maxRecordBytes })) out.push(...batch);
  return out;
}

/** What every line of a JSONL file should read as, worked out one line at a time. */
function expected(bytes: Buffer, maxRecordBytes: number): Array<{ line: number; offset: number; state: string; code?: string; id?: unknown }> {
  const out: Array<{ line: number; offset: number; state: string; code?: string; id?: unknown }> = [];
  let start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let line = 0;
  while (start < bytes.length) {
    let nl = bytes.indexOf(0x0a, start);
    const end = nl === -1 ? bytes.length : nl + 1;
    if (nl === -1) nl = bytes.length;
    line++;
    const raw = bytes.subarray(start, nl);
    start = end;
    if (raw.length > maxRecordBytes) {
      out.push({ line, offset: end, state: 'failed', code: 'TOO_LARGE' });
      continue;
    }
    const body = raw[raw.length - 1] === 0x0d ? raw.subarray(0, raw.length - 1) : raw;
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      out.push({ line, offset: end, state: 'failed', code: 'INVALID_UTF8' });
      continue;
    }
    if (text.trim() === '') continue;
    try {
      const v = JSON.parse(text) as { id?: unknown };
      out.push({ line, offset: end, state: 'ok', id: v.id });
    } catch {
      out.push({ line, offset: end, state: 'failed', code: 'MALFORMED_LINE' });
    }
  }
  return out;
}

describe('JSONL source', () => {
  test('lines across 1 MiB reads: CRLF, BOMs, blank lines, bad UTF-8, bad JSON and oversized lines read as one line at a time would', async () => {
    const dir = tempDir();
    const parts: Buffer[] = [Buffer.from([0xef, 0xbb, 0xbf])];
    for (let i = 0; i < 30_000; i++) {
      const kind = i % 997;
      if (kind === 5) parts.push(Buffer.from('\r\n'));
      else if (kind === 7) parts.push(Buffer.concat([Buffer.from(`{"id":"bad${i}","text":"`), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]));
      else if (kind === 11) parts.push(Buffer.from(`{"id":"big${i}","text":"${'x'.repeat(3000)}"}\n`));
      else if (kind === 13) parts.push(Buffer.from(`{"id":"broken${i}",\n`));
      else if (kind === 17) parts.push(Buffer.from(`\ufeff{"id":"bom${i}","text":"t"}\r\n`));
      else parts.push(Buffer.from(`{"id":"d${i}","text":"é word ${'ü'.repeat(i % 50)}"}${i % 3 === 0 ? '\r' : ''}\n`));
    }
    parts.push(Buffer.from('{"id":"last","text":"no newline"}'));
    const bytes = Buffer.concat(parts);
    expect(bytes.length).toBeGreaterThan(2 << 20);
    const path = join(dir, 'edge.jsonl');
    writeFileSync(path, bytes);
    const got = await readAll(path, 2048);
    const want = expected(bytes, 2048);
    expect(got.length).toBe(want.length);
    got.forEach((r, i) => {
      const w = want[i];
      expect({ line: r.line, offset: r.at.offset, item: r.at.item, state: r.state, ...(r.state === 'failed' ? { code: r.code } : { id: r.value.id }) }).toEqual({
        line: w?.line,
        offset: w?.offset,
        item: i + 1,
        state: w?.state,
        ...(w?.state === 'failed' ? { code: w.code } : { id: w?.id }),
      });
    });
    expect(got.filter((r) => r.state === 'failed').map((r) => (r.state === 'failed' ? r.code : '')).sort()).toContain('INVALID_UTF8');
    expect(got.some((r) => r.state === 'ok' && String(r.value.id).startsWith('bom'))).toBe(true);
  });
});
