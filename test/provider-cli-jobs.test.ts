/**
 * Remote providers in jobs, through the real CLI against the real loopback
 * server: build, search and cached reruns (zero requests), a rejected
 * record in errors.jsonl (exit 3), and a job the circuit breaker stops
 * mid-way (exit 1, a message to rerun) that the rerun resumes and finishes
 * once the server is healed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { JobSummary } from '../src/index.js';
import { OpenAIServer } from './helpers-openai-server.js';
import { kSecretKey, providerArgs, vecforgeAsync } from './provider-cli-helpers.js';
import { tempDir } from './helpers.js';
import { writeJsonl } from './jobs-helpers.js';

const servers: OpenAIServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function startServer(apiKey?: string): Promise<OpenAIServer> {
  const server = await OpenAIServer.start(apiKey !== undefined ? { apiKey } : {});
  servers.push(server);
  return server;
}

function rows(n: number, bad: readonly number[] = []): Array<{ id: string; text: string }> {
  return Array.from({ length: n }, (_, i) => ({ id: `d${i}`, text: bad.includes(i) ? `BAD! entry ${i}` : `an entry about subject number ${i}` }));
}

/** Every file under a directory, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

function summaryOf(stdout: string): JobSummary {
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as JobSummary;
}

describe('provider CLI: build, search and reruns', () => {
  test('build embeds through the provider; search finds a document by its own text; reruns send zero requests; the key is in no output and no file', async () => {
    const server = await startServer(kSecretKey);
    const env = { VECFORGE_API_KEY: kSecretKey };
    const outputs: string[] = [];
    const dir = tempDir();
    const input = writeJsonl(join(dir, 'in.jsonl'), rows(40));
    const out = join(dir, 'idx');
    const model = providerArgs(server.baseUrl, '--cache-dir', dir, '--max-batch-items', '8', '--json');
    const args = [...model, '--progress', 'off'];
    const built = await vecforgeAsync(['build', '--input', input, '--out', out, ...args], { env });
    expect(built.stderr).toBe('');
    expect(built.status).toBe(0);
    const first = summaryOf(built.stdout);
    expect(first.counts).toMatchObject({ added: 40, embedded: 40, cacheHits: 0 });
    const sent = server.requests.length;
    expect(sent).toBeGreaterThanOrEqual(5);
    expect(first.provider?.requests).toBe(sent);
    expect(first.provider?.cacheHits).toBe(0);

    const found = await vecforgeAsync(['search', out, '--query', 'an entry about subject number 17', '--k', '3', ...model], { env });
    expect(found.status).toBe(0);
    expect((JSON.parse(found.stdout) as { ids: string[] }).ids[0]).toBe('d17');
    expect(server.requests).toHaveLength(sent + 1);

    // The finished build again: nothing to do, no request.
    const again = await vecforgeAsync(['build', '--input', input, '--out', out, ...args], { env });
    expect(again.status).toBe(0);
    expect(server.requests).toHaveLength(sent + 1);
    // A full rebuild: every vector from the embedding cache, still no request.
    const full = await vecforgeAsync(['reindex', '--index', out, '--input', input, '--full', ...args], { env });
    expect(full.status).toBe(0);
    const rebuilt = summaryOf(full.stdout);
    expect(rebuilt.counts).toMatchObject({ added: 40, embedded: 0, cacheHits: 40 });
    expect(rebuilt.provider).toMatchObject({ requests: 0, cacheHits: 40 });
    expect(server.requests).toHaveLength(sent + 1);
    for (const r of [built, found, again, full]) outputs.push(r.stdout, r.stderr);
    expect(outputs.join('\n')).not.toContain(kSecretKey);
    const files = filesUnder(dir);
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) expect(readFileSync(f).includes(kSecretKey), f).toBe(false);
  });

  test('a record the provider rejects goes to errors.jsonl with PROVIDER_REJECTED and its message; exit 3', async () => {
    const server = await startServer();
    const dir = tempDir();
    const input = writeJsonl(join(dir, 'in.jsonl'), rows(30, [4, 21]));
    const out = join(dir, 'idx');
    const r = await vecforgeAsync(['build', '--input', input, '--out', out, ...providerArgs(server.baseUrl, '--cache-dir', dir, '--progress', 'off', '--json')]);
    expect(r.status).toBe(3);
    const s = summaryOf(r.stdout);
    expect(s.counts).toMatchObject({ added: 28, failed: 2 });
    const errors = readFileSync(join(out, 'errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(errors.map((e) => [e.id, e.code])).toEqual([
      ['d4', 'PROVIDER_REJECTED'],
      ['d21', 'PROVIDER_REJECTED'],
    ]);
    expect(String(errors[0]?.reason)).toContain('the input is invalid');
  });
});

describe('provider CLI: the circuit breaker stops a job, the rerun resumes it', () => {
  test('exit 1 at the last checkpoint with a message to rerun; healed, the rerun resumes and finishes with every record', async () => {
    const server = await startServer();
    const dir = tempDir();
    const input = writeJsonl(join(dir, 'in.jsonl'), rows(40));
    const out = join(dir, 'idx');
    // 8 records a chunk and a checkpoint, 4 texts a request, one at a time: 6 good requests are 3 checkpointed chunks.
    const args = providerArgs(server.baseUrl, '--cache-dir', dir, '--max-batch-items', '4', '--concurrency', '1', '--chunk-size', '8', '--checkpoint-items', '8', '--breaker-failures', '3', '--breaker-cooldown-ms', '600000', '--max-retries', '5', '--progress', 'off', '--json');
    server.failFrom = { count: 7, fault: { kind: 'status', status: 503 } };
    const stopped = await vecforgeAsync(['build', '--input', input, '--out', out, ...args]);
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toMatch(/circuit breaker is open/);
    expect(stopped.stderr).toContain('(ERR_PROVIDER_UNAVAILABLE)');
    expect(stopped.stderr).toMatch(/rerun the same command to resume:\n {2}vecforge build --input /);
    // The breaker let 3 failed requests through, then none.
    expect(server.requests).toHaveLength(9);
    const info = await vecforgeAsync(['info', out]);
    expect(info.stdout).toMatch(/in progress: build job, running, checkpointed at line 24/);

    server.failFrom = null;
    const resumed = await vecforgeAsync(['build', '--input', input, '--out', out, ...args]);
    expect(resumed.stderr).toBe('');
    expect(resumed.status).toBe(0);
    const s = summaryOf(resumed.stdout);
    expect(s.resumedFrom).toEqual({ item: 24, line: 24 });
    expect(s.state).toBe('ok');
    expect(s.counts).toMatchObject({ read: 40, added: 40, failed: 0 });
    // Only the 16 records past the checkpoint were sent again: 4 requests of 4.
    expect(server.requests.slice(9).flatMap((q) => q.texts)).toHaveLength(16);
    const done = await vecforgeAsync(['info', out, '--json']);
    expect((JSON.parse(done.stdout) as { manifest: { counts: { count: number } } }).manifest.counts.count).toBe(40);
  });
});
