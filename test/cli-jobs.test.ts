import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { corpusRows, kCorpus, vecforge, writeJsonl } from './jobs-helpers.js';
import { kRepoRoot, tempDir } from './helpers.js';

describe('vecforge build / search / info / verify', () => {
  test('build from CSV, search with --query and --queries (text and --json), info DIR, verify DIR', () => {
    const dir = tempDir();
    const out = join(dir, 'idx');
    const b = vecforge(['build', '--input', join(kRepoRoot, 'data', 'sample-corpus.csv'), '--out', out, '--workers', '2', '--json', '--progress', 'off']);
    expect(b.status, b.stderr).toBe(0);
    const summary = JSON.parse(b.stdout) as { state: string; counts: { added: number; failed: number }; version: string; stages: Record<string, number> };
    expect(summary).toMatchObject({ state: 'ok', version: 'v000001', counts: { added: 200, failed: 0 } });
    expect(Object.keys(summary.stages)).toEqual(['readMs', 'cacheMs', 'embedMs', 'insertMs', 'writeMs', 'otherMs']);

    const q = vecforge(['search', out, '--query', 'significant progress, making strides', '--k', '3']);
    expect(q.status, q.stderr).toBe(0);
    expect(q.stdout.split('\n')[0]).toBe('query "significant progress, making strides"');
    // The fused score (convex: 1 for a document both sides rank first).
    expect(q.stdout.split('\n')[1]).toMatch(/^ {3}1 {2}(?:0\.\d{4}|1\.0000) {2}stride\.n\.03 {2}\[noun\] {2}significant progress \(especially in the phrase "make strides"\)$/);

    const queries = writeJsonl(join(dir, 'q.jsonl'), [{ query: 'significant progress, making strides' }, { text: 'acting on behalf of someone' }]);
    const j = vecforge(['search', out, '--queries', queries, '--k', '2', '--json']);
    expect(j.status, j.stderr).toBe(0);
    const lines = j.stdout.trim().split('\n').map((l) => JSON.parse(l) as { query: string; ids: string[]; scores: number[] });
    expect(lines.map((l) => [l.query, l.ids.length, l.scores.length])).toEqual([
      ['significant progress, making strides', 2, 2],
      ['acting on behalf of someone', 2, 2],
    ]);
    expect(lines[0]?.ids[0]).toBe('stride.n.03');
    expect(lines[1]?.ids).toContain('behalf.n.01');

    const info = vecforge(['info', out]);
    expect(info.status).toBe(0);
    expect(info.stdout).toContain('documents:  200 (0 deleted slots');
    expect(info.stdout).toContain('model:      glove-100d');
    const infoJson = JSON.parse(vecforge(['info', out, '--json']).stdout) as { version: string; manifest: { counts: { count: number } } };
    expect(infoJson).toMatchObject({ version: 'v000001', manifest: { counts: { count: 200 } } });

    const v = vecforge(['verify', out]);
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout).toContain('ok    checksums: 3 files');
    expect(v.stdout).toContain('is sound');

    // A flipped byte in the graph: verify names the file and exits 1; search refuses to load it.
    const graph = join(out, 'versions', 'v000001', 'graph.hnsw');
    const bytes = readFileSync(graph);
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0xff;
    writeFileSync(graph, bytes);
    const bad = vecforge(['verify', out]);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain(`FAIL  checksums: index ${out}: file graph.hnsw does not match its checksum`);
    const s = vecforge(['search', out, '--query', 'x']);
    expect(s.status).toBe(1);
    expect(s.stderr).toContain('(ERR_INDEX_CORRUPT)');
  });

  test('exit codes: 3 when some records failed (errors.jsonl), 1 for an unreadable input, 2 for a bad command line', () => {
    const dir = tempDir();
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, `${corpusRows()
      .slice(0, 10)
      .map((r) => JSON.stringify(r))
      .join('\n')}\nnot json\n{"id":"x"}\n`);
    const out = join(dir, 'idx');
    const r = vecforge(['build', '--input', input, '--out', out, '--progress', 'off']);
    expect(r.status).toBe(3);
    expect(r.stdout).toContain(`2 records failed: ${join(out, 'errors.jsonl')}`);
    expect(readFileSync(join(out, 'errors.jsonl'), 'utf8')).toBe(
      '{"line":11,"code":"MALFORMED_LINE","reason":"line is not valid JSON"}\n{"line":12,"id":"x","code":"MISSING_TEXT","reason":"missing \\"text\\""}\n',
    );

    const missing = vecforge(['build', '--input', join(dir, 'nope.jsonl'), '--out', join(dir, 'idx2')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(`vecforge: cannot read input ${join(dir, 'nope.jsonl')}: ENOENT (ERR_IO)\n`);

    const usage = [
      [['build', '--input', input, '--out', out, '--m', '1'], '--m must be an integer in [2, 2048], got "1"'],
      [['build', '--input', input, '--out', out, '--format', 'xml'], '--format must be one of "auto", "jsonl", "csv", got "xml"'],
      [['build', '--out', out], 'build needs --input PATH (or job.input in the config)'],
      [['reindex', '--input', input], 'reindex needs --index DIR (or job.dir in the config)'],
      [['search', out], 'search needs exactly one of --query TEXT, --queries FILE.jsonl and --vectors FILE.npy'],
      [['search', out, '--query', 'x', '--k', '0'], '--k must be an integer in [1, 65536], got "0"'],
    ] as const;
    for (const [args, message] of usage) {
      const u = vecforge(args);
      expect(u.status, args.join(' ')).toBe(2);
      expect(u.stderr).toContain(message);
    }
  });

  test('reindex from the command line: counts in the summary, a new version', () => {
    const dir = tempDir();
    const rows = corpusRows().slice(0, 300);
    const out = join(dir, 'idx');
    expect(vecforge(['build', '--input', writeJsonl(join(dir, 'a.jsonl'), rows), '--out', out, '--progress', 'off']).status).toBe(0);
    const next = writeJsonl(join(dir, 'b.jsonl'), [...rows.slice(0, 250).map((r, i) => (i < 10 ? { ...r, text: `${r.text} again` } : r)), { id: 'new', text: 'a new document about rivers' }]);
    const r = vecforge(['reindex', '--input', next, '--index', out, '--progress', 'off']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe(`reindexed ${out}: 1 added, 10 updated, 50 deleted, 240 unchanged; published v000002`);
    const kept = vecforge(['reindex', '--input', next, '--index', out, '--keep-missing', '--json', '--progress', 'off']);
    expect(JSON.parse(kept.stdout)).toMatchObject({ published: false, version: 'v000002', counts: { unchanged: 251 } });
  });

  test('lexical flags: --stop-words and --bm25-k1/-b set the BM25 of a new index, --no-lexical keeps none; a reindex needs --full for them', () => {
    const dir = tempDir();
    const rows = corpusRows().slice(0, 120);
    const input = writeJsonl(join(dir, 'a.jsonl'), rows);
    const out = join(dir, 'idx');
    const b = vecforge(['build', '--input', input, '--out', out, '--stop-words', 'none', '--bm25-k1', '2', '--bm25-b', '0.5', '--progress', 'off']);
    expect(b.status, b.stderr).toBe(0);
    expect(vecforge(['info', out]).stdout).toContain('lexical:    BM25 (k1 2, b 0.5, stop words none)');
    // A stop word is a term of this index: found lexically.
    const the = vecforge(['search', out, '--query', 'the', '--mode', 'lexical', '--k', '1', '--json']);
    expect(the.status, the.stderr).toBe(0);
    expect((JSON.parse(the.stdout) as { ids: string[] }).ids).toHaveLength(1);

    // An incremental reindex keeps them, and refuses to change them; --full rebuilds with the new ones.
    const refused = vecforge(['reindex', '--input', input, '--index', out, '--stop-words', 'english', '--progress', 'off']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('--stop-words applies to a new index: add --full');
    expect(vecforge(['reindex', '--input', input, '--index', out, '--progress', 'off']).status).toBe(0);
    expect(vecforge(['info', out]).stdout).toContain('stop words none');
    expect(vecforge(['reindex', '--input', input, '--index', out, '--full', '--stop-words', 'english', '--progress', 'off']).status).toBe(0);
    expect(vecforge(['info', out]).stdout).toContain('lexical:    BM25 (k1 1.2, b 0.75, stop words english)');

    const none = join(dir, 'none');
    expect(vecforge(['build', '--input', input, '--out', none, '--no-lexical', '--progress', 'off']).status).toBe(0);
    expect(vecforge(['info', none]).stdout).not.toContain('lexical:');
    const lexicalSearch = vecforge(['search', none, '--query', 'river', '--mode', 'lexical']);
    expect(lexicalSearch.status).toBe(2);
    expect(lexicalSearch.stderr).toContain(`--mode lexical needs a lexical index; ${none} has none`);
    expect(vecforge(['search', none, '--query', 'river', '--mode', 'hybrid']).status).toBe(2);
    expect(vecforge(['search', none, '--query', 'river', '--k', '1']).status).toBe(0);

    // Bad values and conflicts are usage errors that name the flag.
    const conflict = vecforge(['build', '--input', input, '--out', join(dir, 'c'), '--no-lexical', '--stop-words', 'none']);
    expect(conflict.status).toBe(2);
    expect(conflict.stderr).toContain('--stop-words (index.stopWords, from option) sets the lexical index, but --no-lexical');
    const badB = vecforge(['build', '--input', input, '--out', join(dir, 'd'), '--bm25-b', '2']);
    expect(badB.status).toBe(2);
    expect(badB.stderr).toContain('--bm25-b');
    const badList = vecforge(['build', '--input', input, '--out', join(dir, 'e'), '--stop-words', 'french']);
    expect(badList.status).toBe(2);
    expect(badList.stderr).toContain('--stop-words');
  });

  test('the sample corpus: demo --out keeps an index in which the sample queries find their expected documents', () => {
    const out = join(tempDir(), 'demo');
    const r = vecforge(['demo', '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as { documents: number; queries: number; foundInTop10: number; index: string };
    expect(s.documents).toBe(corpusRows().length);
    expect(s.index).toBe(out);
    expect(s.foundInTop10).toBeGreaterThanOrEqual(Math.floor(s.queries * 0.9));
    const j = vecforge(['search', out, '--queries', join(kRepoRoot, 'data', 'sample-queries.jsonl'), '--k', '10', '--ef', '128', '--json']);
    expect(j.status).toBe(0);
    const expected = readFileSync(join(kRepoRoot, 'data', 'sample-queries.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { expected: string[] }).expected);
    const found = j.stdout
      .trim()
      .split('\n')
      .filter((l, i) => (JSON.parse(l) as { ids: string[] }).ids.some((id) => expected[i]?.includes(id))).length;
    expect(found).toBe(s.foundInTop10);
    expect(kCorpus).toContain('sample-corpus.jsonl');
  });
});
