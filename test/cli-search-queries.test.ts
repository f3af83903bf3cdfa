import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempDir } from './helpers.js';
import { corpusRows, vecforge, writeJsonl } from './jobs-helpers.js';

interface OutLine {
  readonly id?: string | number;
  readonly line?: number;
  readonly query: string;
  readonly ids?: string[];
  readonly error?: { code: string; message: string };
}

/** Builds an index of `rows` in a fresh directory: its path and the directory's. */
function builtIndex(rows: ReturnType<typeof corpusRows>): { dir: string; out: string } {
  const dir = tempDir();
  const out = join(dir, 'idx');
  const b = vecforge(['build', '--input', writeJsonl(join(dir, 'c.jsonl'), rows), '--out', out, '--workers', '1', '--json', '--progress', 'off']);
  expect(b.status, b.stderr).toBe(0);
  return { dir, out };
}

/** The --json output, a line each. */
function outLines(stdout: string): OutLine[] {
  return stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as OutLine);
}

describe('search --queries --json: one output line per input query, in order', () => {
  test('answered, unanswerable and malformed queries each keep their place, with the id of the input line', () => {
    const { dir, out } = builtIndex(corpusRows().slice(0, 60));
    const queries = join(dir, 'q.jsonl');
    const lines = [
      '{"id":"q1","query":"significant progress, making strides"}',
      'not json',
      '{"id":"q3","query":"?! -- ..."}',
      '',
      '{"id":7,"text":"acting on behalf of someone"}',
      '{"id":"q6"}',
      '"promise of reward"',
      '[1, 2]',
    ];
    writeFileSync(queries, Buffer.concat([Buffer.from(`${lines.join('\n')}\n`), Buffer.from('{"id":"q9","query":"\xff"}\n', 'latin1'), Buffer.from('{"id":"q10","query":"making strides"}\n')]));
    const r = vecforge(['search', out, '--queries', queries, '--k', '2', '--json', '--workers', '1']);
    expect(r.status, r.stderr).toBe(3);
    const got = outLines(r.stdout);
    expect(got.map((g) => [g.id ?? null, g.line, g.error?.code ?? `${g.ids?.length ?? 0} hits`])).toEqual([
      ['q1', 1, '2 hits'],
      [null, 2, 'MALFORMED_LINE'],
      ['q3', 3, 'UNANSWERABLE'],
      [7, 5, '2 hits'],
      ['q6', 6, 'MISSING_QUERY'],
      [null, 7, '2 hits'],
      [null, 8, 'MALFORMED_LINE'],
      [null, 9, 'INVALID_UTF8'],
      ['q10', 10, '2 hits'],
    ]);
    expect(got[0]).toMatchObject({ query: 'significant progress, making strides' });
    expect(got[0]?.ids?.[0]).toBe('stride.n.03');
    expect(got[1]?.error).toEqual({ code: 'MALFORMED_LINE', message: 'line is not valid JSON' });
    expect(got[2]?.error?.message).toMatch(/cannot be answered: it cannot be embedded \(no word of the text is in the model vocabulary\) and it has no word to search lexically/);
    expect(got[4]?.error).toEqual({ code: 'MISSING_QUERY', message: 'no "query" string' });
    expect(got[6]?.error).toEqual({ code: 'MALFORMED_LINE', message: 'line is not a JSON object or string' });
    expect(got[7]?.error).toEqual({ code: 'INVALID_UTF8', message: 'line is not valid UTF-8' });
    expect(got[8]?.ids?.[0]).toBe('stride.n.03');
    // Each failure is also told on stderr, by line.
    expect(r.stderr.split('\n').filter((l) => l.startsWith('vecforge: query on line '))).toHaveLength(5);
  });

  test('a file longer than one batch (4,096 queries) stays aligned across batches, failures at the boundary included', () => {
    const rows = corpusRows().slice(0, 40);
    const { dir, out } = builtIndex(rows);
    // 4,500 queries (two batches; the CLI's output stays under spawnSync's buffer): each a corpus text,
    // whose own document ranks first, with failures on both sides of the boundary and last.
    const bad = new Map([[4095, 'not json'], [4096, '{"id":"nope","query":"?!"}'], [4499, '{"id":"q4499"}']]);
    const lines = Array.from({ length: 4500 }, (_, i) => bad.get(i) ?? JSON.stringify({ id: `q${i}`, query: rows[i % rows.length]?.text }));
    const queries = join(dir, 'q.jsonl');
    writeFileSync(queries, `${lines.join('\n')}\n`);
    const r = vecforge(['search', out, '--queries', queries, '--k', '1', '--json', '--workers', '1']);
    expect(r.status, r.stderr).toBe(3);
    const got = outLines(r.stdout);
    expect(got).toHaveLength(4500);
    expect(got.map((g) => g.line)).toEqual(lines.map((_, i) => i + 1));
    got.forEach((g, i) => {
      if (bad.has(i)) expect(g.error?.code).toBe(i === 4095 ? 'MALFORMED_LINE' : i === 4096 ? 'UNANSWERABLE' : 'MISSING_QUERY');
      else expect([g.id, g.ids?.[0]]).toEqual([`q${i}`, rows[i % rows.length]?.id]);
    });
  }, 120_000);

  test('a query line over --max-record-bytes fails in its place as TOO_LARGE', () => {
    const { dir, out } = builtIndex(corpusRows().slice(0, 20));
    const queries = join(dir, 'q.jsonl');
    writeFileSync(queries, `{"id":"big","query":"${'a'.repeat(5000)}"}\n{"id":"ok","query":"making strides"}\n`);
    const r = vecforge(['search', out, '--queries', queries, '--k', '1', '--json', '--workers', '1', '--max-record-bytes', '1024']);
    expect(r.status, r.stderr).toBe(3);
    const got = outLines(r.stdout);
    expect(got).toHaveLength(2);
    expect(got[0]).toEqual({ line: 1, query: '', error: { code: 'TOO_LARGE', message: 'line is over 1024 bytes (--max-record-bytes)' } });
    expect(got[1]).toMatchObject({ id: 'ok', line: 2, query: 'making strides' });
  });
});
