/**
 * Inputs for the split tests: JSONL files that hold every kind of line
 * the split treats apart (blank, malformed, no id, bad id, over-long,
 * invalid UTF-8, CRLF, BOM, multi-byte text, a last line without a line
 * end), and a reader of what a split left in its staging directory.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import type { SplitResult } from '../src/jobs/shards/split.js';

/** The longest record the mixed inputs are split with. */
export const kMixedMaxRecordBytes = 4096;

const kAlphabet = ['a', 'b', 'é', 'ß', 'Ω', '漢', '字', '😀', '🚀', ' ', 'z', 'ü'];

/** A small deterministic generator (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

function text(next: () => number, chars: number): string {
  let s = '';
  for (let i = 0; i < chars; i++) s += kAlphabet[Math.floor(next() * kAlphabet.length)];
  return s;
}

/** One line, its line end included, of kind chosen by `next`. */
function mixedLine(i: number, next: () => number): Buffer {
  const r = next();
  const eol = next() < 0.15 ? '\r\n' : '\n';
  const record = (value: unknown): Buffer => Buffer.from(`${JSON.stringify(value)}${eol}`);
  if (r < 0.6) return record({ id: `doc-${i}`, text: text(next, 5 + Math.floor(next() * 120)) });
  if (r < 0.65) return record({ id: i, text: text(next, 20) });
  if (r < 0.68) return Buffer.from(['', '   ', '\r', '\t ', '\uFEFF'][Math.floor(next() * 5)] + eol);
  if (r < 0.7) return Buffer.from(`{"id":"broken-${i}", "text": ${eol}`);
  if (r < 0.72) return Buffer.from(`${['[1,2]', '42', 'null', '"a string"'][Math.floor(next() * 4)]}${eol}`);
  if (r < 0.74) return record({ text: text(next, 30) });
  if (r < 0.76) return record({ id: [[i], 1.5, '', { a: 1 }, true][Math.floor(next() * 5)], text: 'bad id' });
  if (r < 0.78) return Buffer.concat([Buffer.from(`{"id":"bad-utf8-${i}","text":"`), Buffer.from([0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from(`"}${eol}`)]);
  if (r < 0.8) return record({ id: `long-${i}`, text: text(next, kMixedMaxRecordBytes / 2 + Math.floor(next() * kMixedMaxRecordBytes)) });
  if (r < 0.81) return Buffer.from(`\uFEFF${JSON.stringify({ id: `bom-${i}`, text: 'after a BOM' })}${eol}`);
  if (r < 0.82) return record({ id: `dup-${i % 7}`, text: 'the same id again' });
  // Mostly 4-byte characters: a naive byte cut here falls inside one.
  return record({ id: `emoji-${i}`, text: '😀🚀'.repeat(20 + Math.floor(next() * 200)) });
}

/**
 * Writes a mixed JSONL file: a BOM, `lines` lines of every kind, one line
 * longer than a 1 MiB read, and a last record without a line end.
 * @param path - where.
 * @param lines - how many generated lines.
 * @param seed - the generator's seed.
 * @returns the file's size.
 */
export function writeMixedInput(path: string, lines: number, seed = 7): number {
  const next = rng(seed);
  const fd = openSync(path, 'w');
  let size = 0;
  const put = (b: Buffer): void => {
    writeSync(fd, b);
    size += b.length;
  };
  try {
    put(Buffer.from('\uFEFF'));
    for (let i = 0; i < lines; i++) {
      if (i === Math.floor(lines / 3)) put(Buffer.from(`{"id":"huge","text":"${'é'.repeat(700_000)}"}\r\n`));
      // Exactly at the limit (kept), the limit with a CR (kept), one over (failed).
      if (i === Math.floor(lines / 2)) {
        const at = (n: number, id: string): string => `{"id":"${id}","text":"${'x'.repeat(n - 19 - id.length)}"}`;
        put(Buffer.from(`${at(kMixedMaxRecordBytes, 'limit')}\n${at(kMixedMaxRecordBytes, 'limit-cr')}\r\n${at(kMixedMaxRecordBytes + 1, 'over')}\n`));
      }
      put(mixedLine(i, next));
    }
    put(Buffer.from(JSON.stringify({ id: 'the-last', text: 'no line end 😀' })));
  } finally {
    closeSync(fd);
  }
  return size;
}

/**
 * Writes a JSONL file of ordinary records of exactly `bytes` bytes.
 * @param path - where.
 * @param bytes - its size (at least 64).
 */
export function writeSizedInput(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  let size = 0;
  try {
    for (let i = 0; size + 200 < bytes; i++) {
      const b = Buffer.from(`${JSON.stringify({ id: `doc-${i}`, text: `text ${i} é 漢 😀` })}\n`);
      writeSync(fd, b);
      size += b.length;
    }
    const pad = bytes - size - '{"id":"pad","text":""}\n'.length;
    writeSync(fd, `{"id":"pad","text":"${'p'.repeat(pad)}"}\n`);
  } finally {
    closeSync(fd);
  }
}

/** What a split left in its staging directory, and what it returned, without paths. */
export interface SplitOutcome {
  readonly files: readonly string[];
  readonly bytes: readonly Buffer[];
  readonly fileSha256: readonly string[];
  readonly result: { readonly shards: readonly { sha256: string; records: number }[]; readonly failed: SplitResult['failed']; readonly read: number };
}

/**
 * Reads a split's outcome.
 * @param stagingDir - its staging directory.
 * @param r - what it returned.
 * @returns the files there (names), the shard files' bytes and hashes, and the result without paths.
 */
export function splitOutcome(stagingDir: string, r: SplitResult): SplitOutcome {
  const files = readdirSync(stagingDir).sort();
  const bytes = r.shards.map((s) => readFileSync(s.path));
  return {
    files,
    bytes,
    fileSha256: bytes.map((b) => createHash('sha256').update(b).digest('hex')),
    result: { shards: r.shards.map((s) => ({ sha256: s.sha256, records: s.records })), failed: r.failed, read: r.read },
  };
}

/**
 * Worker threads of this process now.
 * @returns their count.
 */
export function runningThreads(): number {
  return (process.report.getReport() as unknown as { workers: unknown[] }).workers.length;
}
