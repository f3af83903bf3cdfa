/**
 * `vecforge serve` as a process: a version published by `vecforge reindex`
 * in another process is switched in while searches run (every answer comes
 * from one complete version; a pending write survives the switch), and
 * SIGTERM drains a request in flight, saves pending writes and exits 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { type IncomingMessage, request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { kRepoRoot, kTestCacheDir, tempDir } from './helpers.js';
import { corpusRows, kBin, vecforge, writeJsonl } from './jobs-helpers.js';
import { json, parsePrometheus, sampleValue } from './serve-helpers.js';

const kKey = 'serve-cli-test-key-0123456789';
const auth = { authorization: `Bearer ${kKey}` };

/** A running `vecforge serve` process. */
interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly exited: Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** Resolves once stderr holds a match of `pattern`. */
  readonly stderrMatch: (pattern: RegExp) => Promise<void>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** Starts the CLI and resolves once it prints its URL. */
function serve(args: readonly string[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, [kBin, 'serve', '--port', '0', '--workers', '1', ...args], {
    cwd: kRepoRoot,
    env: { ...process.env, VECFORGE_CACHE_DIR: kTestCacheDir, VECFORGE_SERVER_API_KEY: kKey },
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  const stderrMatch = (pattern: RegExp): Promise<void> =>
    new Promise((resolve) => {
      if (pattern.test(stderr)) resolve();
      else waiters.push({ pattern, resolve });
    });
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const w of waiters.filter((x) => x.pattern.test(stderr))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /listening on (http:\/\/\S+)\n/.exec(stdout);
      if (m !== null) resolve({ child, url: m[1] as string, exited, stderrMatch });
    });
    void exited.then((r) => reject(new Error(`vecforge serve exited (${r.status}) before listening: ${r.stderr}`)));
  });
}

/** Runs the CLI without blocking this process's event loop (searches go on meanwhile). */
function vecforgeAsync(args: readonly string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [kBin, ...args], { cwd: kRepoRoot, env: { ...process.env, VECFORGE_CACHE_DIR: kTestCacheDir } });
    children.push(child);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

/** The first n corpus rows with ids under a prefix: two corpora with the same texts and disjoint ids. */
function corpus(path: string, prefix: string, n: number): string {
  return writeJsonl(
    path,
    corpusRows()
      .slice(0, n)
      .map((r) => ({ ...r, id: `${prefix}${r.id}` })),
  );
}

describe('vecforge serve (process)', () => {
  test('switches to a version reindex publishes in another process while searches run; a pending write survives', async () => {
    const root = tempDir('vecforge-serve-cli-');
    const dir = join(root, 'notes');
    const built = vecforge(['build', '--input', corpus(join(root, 'a.jsonl'), 'a:', 150), '--out', dir, '--workers', '1', '--progress', 'off']);
    expect(built.status, built.stderr).toBe(0);
    const server = await serve([`notes=${dir}`, '--reload-poll-ms', '20', '--save-interval-ms', '0']);
    const up = await json(`${server.url}/v1/indexes/notes/documents`, 'POST', { documents: [{ id: 'mine', text: 'a purple elephant dancing at midnight' }] }, auth);
    expect(up.body.results).toEqual([{ id: 'mine', state: 'pending' }]);

    const answers: Array<{ version: string; ids: string[] }> = [];
    let stop = false;
    const searcher = (async () => {
      while (!stop) {
        const r = await json(`${server.url}/v1/indexes/notes/search`, 'POST', { query: 'a large animal', k: 40 }, auth);
        expect(r.status).toBe(200);
        answers.push({ version: r.body.version, ids: r.body.hits.map((h: { id: string }) => h.id) });
        if (answers.length > 20 && answers[answers.length - 1]?.version === 'v000002') stop = true;
      }
    })();
    const reindexed = await vecforgeAsync(['reindex', '--input', corpus(join(root, 'b.jsonl'), 'b:', 150), '--index', dir, '--workers', '1', '--progress', 'off']);
    expect(reindexed.status, reindexed.stderr).toBe(0);
    // The switch is caused by the publish; the searcher stops once it has seen it (the test's timeout bounds the wait).
    await searcher;

    expect(answers.length).toBeGreaterThan(20);
    const byVersion = new Map<string, number>();
    for (const a of answers) {
      // Every answer is one complete version: all old ids, or all new ones, and as many as asked.
      expect(a.ids).toHaveLength(40);
      const prefix = a.version === 'v000001' ? 'a:' : 'b:';
      expect(a.version === 'v000001' || a.version === 'v000002').toBe(true);
      expect(a.ids.filter((id) => id !== 'mine').every((id) => id.startsWith(prefix))).toBe(true);
      byVersion.set(a.version, (byVersion.get(a.version) ?? 0) + 1);
    }
    expect(byVersion.get('v000001')).toBeGreaterThan(0);
    expect(byVersion.get('v000002')).toBeGreaterThan(0);
    // Answers never go back to the old version once the new one serves.
    const firstNew = answers.findIndex((a) => a.version === 'v000002');
    expect(answers.slice(firstNew).every((a) => a.version === 'v000002')).toBe(true);

    const stats = await json(`${server.url}/v1/indexes/notes`, 'GET', undefined, auth);
    expect(stats.body).toMatchObject({ version: 'v000002', count: 151, pendingWrites: 1, reloads: 1 });
    const mine = await json(`${server.url}/v1/indexes/notes/search`, 'POST', { query: 'a purple elephant dancing at midnight', k: 1 }, auth);
    expect(mine.body.hits[0].id).toBe('mine');
    const saved = await json(`${server.url}/v1/indexes/notes/save`, 'POST', undefined, auth);
    expect(saved.body).toEqual({ version: 'v000003', saved: 1, pendingWrites: 0 });
    const metrics = parsePrometheus((await json(`${server.url}/metrics`, 'GET', undefined, auth)).body as string);
    expect(sampleValue(metrics, 'vecforge_index_reloads_total', { index: 'notes' })).toBe(1);
    expect(sampleValue(metrics, 'vecforge_index_version', { index: 'notes' })).toBe(3);

    server.child.kill('SIGTERM');
    const end = await server.exited;
    expect(end.status).toBe(0);
    const info = vecforge(['search', dir, '--query', 'a purple elephant dancing at midnight', '--k', '1', '--json', '--workers', '1']);
    expect(JSON.parse(info.stdout).ids).toEqual(['mine']);
  });

  test('SIGTERM: the request in flight finishes, new ones are refused, pending writes are saved, exit 0; the key is never printed', async () => {
    const root = tempDir('vecforge-serve-cli-');
    const dir = join(root, 'notes');
    expect(vecforge(['build', '--input', corpus(join(root, 'a.jsonl'), 'a:', 100), '--out', dir, '--workers', '1', '--progress', 'off']).status).toBe(0);
    const server = await serve([dir, '--drain-ms', '60000', '--save-interval-ms', '0']);
    const up = await json(`${server.url}/v1/indexes/notes/documents`, 'POST', { documents: [{ id: 'late', text: 'written just before the end' }] }, auth);
    expect(up.body.pendingWrites).toBe(1);
    // A request in flight for sure: its headers are in, its body half sent until the server has taken the signal.
    const body = JSON.stringify({ input: corpusRows()
      .slice(0, 200)
      .map((r) => r.text) });
    const half = body.length >> 1;
    const req = request(`${server.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...auth } });
    const response = once(req, 'response') as Promise<[IncomingMessage]>;
    req.write(body.slice(0, half));
    for (;;) {
      const m = parsePrometheus((await json(`${server.url}/metrics`, 'GET', undefined, auth)).body as string);
      // The half-sent request, besides the metrics request itself.
      if (sampleValue(m, 'vecforge_http_requests_in_flight') >= 2) break;
    }
    server.child.kill('SIGTERM');
    await server.stderrMatch(/stopping: draining requests in flight/);
    // New requests are refused while it drains: 503, or no connection at all once the listener is closed.
    const late = await fetch(`${server.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: '{"input":"too late"}' }).then(
      (r) => r.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(late);
    req.end(body.slice(half));
    const [res] = await response;
    let text = '';
    for await (const chunk of res) text += String(chunk);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(text).data).toHaveLength(200);
    const end = await server.exited;
    expect(end.status).toBe(0);
    expect(end.stderr).toMatch(/stopping: draining requests in flight[\s\S]*saved 1 writes as v000002[\s\S]*stopped/);
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
    expect(readFileSync(join(dir, 'current'), 'utf8').trim()).toBe('v000002');
    expect(`${end.stdout}${end.stderr}`).not.toContain(kKey);
  });

  test('SIGTERM: a request that does not finish within --drain-ms has its connection cut; exit 0', async () => {
    const server = await serve(['--drain-ms', '300']);
    const req = request(`${server.url}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': 1000, ...auth } });
    const failed = once(req, 'error');
    req.write('{"input": "never finished');
    for (;;) {
      const m = parsePrometheus((await json(`${server.url}/metrics`, 'GET', undefined, auth)).body as string);
      if (sampleValue(m, 'vecforge_http_requests_in_flight') >= 2) break;
    }
    server.child.kill('SIGTERM');
    const end = await server.exited;
    expect(end.status).toBe(0);
    expect(end.stderr).toMatch(/requests still in flight after 300 ms; closing their connections/);
    const [error] = (await failed) as [NodeJS.ErrnoException];
    expect(error.code).toMatch(/ECONNRESET|EPIPE/);
  });

  test('bad flags are usage errors (exit 2) naming the flag', () => {
    const r = vecforge(['serve', '--port', '70000']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--port must be an integer in \[0, 65535\], got "70000"/);
    const k = vecforge(['serve', '--api-key', 'short']);
    expect(k.status).toBe(2);
    expect(k.stderr).toMatch(/apiKey must be a string of at least 8 characters/);
    expect(k.stderr).not.toContain('short ');
    const h = vecforge(['serve', '--host', 'example.com']);
    expect(h.status).toBe(2);
    expect(h.stderr).toMatch(/--host must be an IP address or "localhost"/);
  });
});
