import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readFileRecords, readFileRecordsKnowing, type KnownSourceRecord, type SourceRecord } from '../src/jobs/sources.js';
import { lineDigest, loadNativeLineDigests } from '../src/jobs/line-digests.js';
import { KnownLines } from '../src/jobs/known-lines.js';
import { nativeHnswAvailable } from '../src/index/hnsw/native-core.js';
import { createHash } from 'node:crypto';
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

  test('known lines come as runs that stand for exactly the records a plain read gives, with their known places', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    for (let i = 0; i < 40_000; i++) lines.push(i % 501 === 9 ? '' : JSON.stringify({ id: `d${i}`, text: `line ${i} ${'w'.repeat(i % 60)}` }));
    const path = join(dir, 'known.jsonl');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const plain = await readAll(path);
    // Known: every record line but every 50th (changed), and one known line dropped from the file (a gap in places).
    const knownLines = plain.filter((r) => r.state === 'ok' && r.line % 50 !== 0);
    const digests = Buffer.concat(knownLines.map((r) => lineDigest(Buffer.from(lines[r.line - 1] ?? '', 'utf8'))));
    const ids = knownLines.map((r) => (r.state === 'ok' ? String(r.value.id) : ''));
    const read = async (): Promise<KnownSourceRecord[]> => {
      const out: KnownSourceRecord[] = [];
      for await (const batch of readFileRecordsKnowing(path, { format: 'jsonl', maxRecordBytes: 1 << 20, known: new KnownLines(digests, ids) })) out.push(...batch);
      return out;
    };
    const got = await read();
    // The portable hasher (VECFORGE_NATIVE=0) reads the same runs and records, digests included.
    const saved = process.env.VECFORGE_NATIVE;
    process.env.VECFORGE_NATIVE = '0';
    try {
      expect(await read()).toEqual(got);
    } finally {
      if (saved === undefined) delete process.env.VECFORGE_NATIVE;
      else process.env.VECFORGE_NATIVE = saved;
    }
    // Lines read as records carry the SHA-256 of their bytes.
    for (const r of got) if (r.state === 'ok') expect(Buffer.from(r.digest ?? []).equals(lineDigest(Buffer.from(lines[r.line - 1] ?? '', 'utf8')))).toBe(true);

    // Expanded line by line, the runs and records are the plain read's records, item for item.
    const expanded: Array<{ line: number; item: number; position?: number }> = [];
    let runs = 0;
    for (const r of got) {
      if (r.state !== 'same') {
        expanded.push({ line: r.line, item: r.at.item });
        continue;
      }
      runs++;
      expect(r.count).toBeGreaterThan(0);
      expect(r.at.line).toBe(r.line + r.count - 1);
      const last = plain[r.at.item - 1];
      expect(last?.at).toEqual(r.at);
      for (let k = 0; k < r.count; k++) expanded.push({ line: r.line + k, item: r.at.item - r.count + 1 + k, position: r.position + k });
    }
    expect(expanded.map((e) => [e.line, e.item])).toEqual(plain.map((r) => [r.line, r.at.item]));
    // Each line of a run is named by its own place, and every known line
    // comes in a run, also those a 1 MiB read splits or begins with.
    const placeOf = new Map(knownLines.map((r, i) => [r.line, i]));
    for (const e of expanded) expect(e.position).toBe(placeOf.get(e.line));
    // Runs break at every changed line and blank line: about one per 50 lines, far fewer than lines.
    expect(runs).toBeGreaterThan(700);
    expect(runs).toBeLessThan(1000);
  });

  test('the native line hasher gives the SHA-256 of each line, without its CR LF or LF, as node:crypto does', () => {
    const native = loadNativeLineDigests();
    // The addon is built here (npm ci builds it); without it the reader uses node:crypto.
    expect(native === undefined).toBe(!nativeHnswAvailable());
    if (native === undefined) return;
    const lines = ['', 'abc', '{"id":"x","text":"é ü 😀"}', 'x'.repeat(70_000), '\r', 'tail\r'];
    const chunk = Buffer.from(`${lines.join('\n')}\nno newline`);
    const digests = new Uint8Array(32 * 16);
    const ends = new Int32Array(16);
    const n = native(chunk, 0, chunk.length, digests, ends);
    expect(n).toBe(lines.length);
    let start = 0;
    for (let i = 0; i < n; i++) {
      const line = lines[i] ?? '';
      const body = line.endsWith('\r') ? line.slice(0, -1) : line;
      expect(Buffer.from(digests.subarray(i * 32, i * 32 + 32)).equals(createHash('sha256').update(body).digest())).toBe(true);
      start += Buffer.byteLength(line) + 1;
      expect(ends[i]).toBe(start - 1);
    }
    // Full buffers stop it; a range stops it; bad arguments are named.
    expect(native(chunk, 0, chunk.length, new Uint8Array(64), ends)).toBe(2);
    expect(native(chunk, 1, 5, digests, ends)).toBe(1);
    expect(native(chunk, 1, 4, digests, ends)).toBe(0);
    expect(() => native(chunk, 0, chunk.length + 1, digests, ends)).toThrow(/to/);
    expect(() => native(chunk, 0, 1, digests, new Uint32Array(4) as unknown as Int32Array)).toThrow(/ends must be a/);
  });

  test('known lines are matched a block at a time natively exactly as one at a time in JS, moved lines and lines after a removed block included', () => {
    const digestOf = (i: number): Buffer => createHash('sha256').update(`line ${i}`).digest();
    const knownCount = 3000;
    const ids = Array.from({ length: knownCount }, (_, i) => `id${i}`);
    const digests = Buffer.concat(ids.map((_, i) => digestOf(i)));
    // Read: known lines with gaps (removed), repeats, lines moved a little and far, and new ones.
    const read: number[] = [];
    for (let i = 0; i < knownCount; i++) {
      if (i % 97 === 3) continue;
      if (i % 101 === 5) read.push(-i);
      read.push(i);
      if (i % 89 === 7) read.push(i);
      if (i % 211 === 9) read.push((i + 5) % knownCount, (i + 1500) % knownCount);
    }
    const block = new Int32Array(read.length * 8);
    new Uint8Array(block.buffer).set(Buffer.concat(read.map((i) => (i < 0 ? createHash('sha256').update(`new ${i}`).digest() : digestOf(i)))));
    const match = (native: boolean): number[] => {
      const saved = process.env.VECFORGE_NATIVE;
      if (!native) process.env.VECFORGE_NATIVE = '0';
      try {
        const known = new KnownLines(digests, ids);
        const positions = new Int32Array(read.length);
        // In two blocks, then one line at a time, as the reader may.
        known.findBlock(block, 1000, positions);
        known.findBlock(block.subarray(8000), read.length - 1500, positions.subarray(1000));
        for (let i = read.length - 500; i < read.length; i++) positions[i] = known.find(block, i);
        return [...positions];
      } finally {
        if (saved === undefined) delete process.env.VECFORGE_NATIVE;
        else process.env.VECFORGE_NATIVE = saved;
      }
    };
    const js = match(false);
    expect(match(true)).toEqual(js);
    // Every known line is found at its own place, near or moved far; new ones are misses.
    expect(js).toEqual(read.map((i) => (i < 0 ? -1 : i)));
  });
});

