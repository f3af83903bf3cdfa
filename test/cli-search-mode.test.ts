/**
 * `vecforge search --mode`: every mode keeps one --json line per input
 * query, in order, failed queries in their place; hybrid answers a query
 * with no known word lexically; a bad mode is a usage error.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tempDir } from './helpers.js';
import { corpusRows, vecforge, writeJsonl } from './jobs-helpers.js';

interface OutLine {
  readonly id?: string | number;
  readonly line?: number;
  readonly ids?: string[];
  readonly error?: { code: string; message: string };
}

describe('search --mode', () => {
  test('hybrid, vector and lexical each print one aligned line per query', () => {
    const dir = tempDir();
    const out = join(dir, 'idx');
    const rows = [...corpusRows().slice(0, 60), { id: 'rare', text: 'zzqqx vvbbn', metadata: {}, namespace: 'noun' }];
    const b = vecforge(['build', '--input', writeJsonl(join(dir, 'c.jsonl'), rows), '--out', out, '--workers', '1', '--json', '--progress', 'off']);
    expect(b.status, b.stderr).toBe(0);
    const queries = join(dir, 'q.jsonl');
    writeFileSync(queries, ['{"id":"q1","query":"making strides"}', 'not json', '{"id":"q3","query":"zzqqx"}', '{"id":"q4","query":"?!"}', '"promise of reward"'].join('\n'));
    const run = (mode: string): Array<[string | number | null, number | undefined, string]> => {
      const r = vecforge(['search', out, '--queries', queries, '--k', '2', '--json', '--workers', '1', '--mode', mode]);
      expect(r.status, r.stderr).toBe(3);
      return r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as OutLine)
        .map((g) => [g.id ?? null, g.line, g.error?.code ?? (g.ids ?? []).join(',')]);
    };
    const hybrid = run('hybrid');
    expect(hybrid.map(([id, line]) => [id, line])).toEqual([['q1', 1], [null, 2], ['q3', 3], ['q4', 4], [null, 5]]);
    expect(hybrid[0]?.[2].split(',')[0]).toBe('stride.n.03');
    expect(hybrid[1]?.[2]).toBe('MALFORMED_LINE');
    expect(hybrid[2]?.[2]).toBe('rare');
    expect(hybrid[3]?.[2]).toBe('UNANSWERABLE');
    const vector = run('vector');
    expect(vector.map((v) => v[2])).toEqual([expect.any(String), 'MALFORMED_LINE', 'NO_KNOWN_WORDS', 'NO_KNOWN_WORDS', expect.any(String)]);
    expect(vector[0]?.[2].split(',')).toHaveLength(2);
    const lexical = run('lexical');
    expect(lexical.map((v) => v[0])).toEqual(['q1', null, 'q3', 'q4', null]);
    expect(lexical[0]?.[2].split(',')).toContain('stride.n.03');
    expect(lexical[2]?.[2]).toBe('rare');
    expect(lexical[3]?.[2]).toBe('NO_TERMS');
    const bad = vecforge(['search', out, '--query', 'x', '--mode', 'fuzzy', '--workers', '1']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--mode must be one of hybrid, vector, lexical, got "fuzzy"/);
  });
});
