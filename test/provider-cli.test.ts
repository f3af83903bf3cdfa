/**
 * Remote providers through the real CLI against the real loopback server:
 * `embed` with the provider flags, a rejected record (PROVIDER_REJECTED,
 * exit 3), the API key's precedence and secrecy, and validation messages
 * that name the flag, the variable or the config key.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { readNpy } from '../src/io/npy.js';
import { OpenAIServer, serverVector, type OpenAIServerOptions } from './helpers-openai-server.js';
import { kSecretKey, providerArgs, vecforgeAsync } from './provider-cli-helpers.js';
import { tempDir } from './helpers.js';
import { writeJsonl } from './jobs-helpers.js';

const servers: OpenAIServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function startServer(options: OpenAIServerOptions = {}): Promise<OpenAIServer> {
  const server = await OpenAIServer.start(options);
  servers.push(server);
  return server;
}

function rows(n: number, bad: readonly number[] = []): Array<{ id: string; text: string }> {
  return Array.from({ length: n }, (_, i) => ({ id: `d${i}`, text: bad.includes(i) ? `BAD! text ${i}` : `the definition of word number ${i}` }));
}

describe('provider CLI: embed', () => {
  test('embeds through the endpoint within --concurrency and --max-batch-items; vectors are the server\'s, in input order', async () => {
    const server = await startServer({ apiKey: kSecretKey, latencyMs: 5 });
    const dir = tempDir();
    const input = writeJsonl(join(dir, 'in.jsonl'), rows(50));
    const out = join(dir, 'out.npy');
    const r = await vecforgeAsync(['embed', '--input', input, '--output', out, ...providerArgs(server.baseUrl, '--concurrency', '2', '--max-batch-items', '4', '--cache-dir', dir), '--json'], { env: { VECFORGE_API_KEY: kSecretKey } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const npy = readNpy(out);
    expect([npy.rows, npy.dims]).toEqual([50, 8]);
    const ids = readFileSync(join(dir, 'out.ids.txt'), 'utf8').trim().split('\n');
    expect(ids).toEqual(rows(50).map((x) => x.id));
    for (const [i, x] of rows(50).entries()) {
      const expected = serverVector(x.text, 8);
      for (let d = 0; d < 8; d++) expect(npy.data[i * 8 + d]).toBeCloseTo(expected[d] as number, 6);
    }
    expect(server.maxInFlight).toBeLessThanOrEqual(2);
    expect(server.requests.length).toBeGreaterThanOrEqual(13);
    expect(Math.max(...server.requests.map((q) => q.texts.length))).toBeLessThanOrEqual(4);
    expect(server.requests.every((q) => q.authorization === `Bearer ${kSecretKey}` && q.body.dimensions === 8)).toBe(true);
    const summary = JSON.parse(r.stdout) as { count: number; provider: { requests: number; breaker: { state: string } } };
    expect(summary.count).toBe(50);
    expect(summary.provider.requests).toBe(server.requests.length);
    expect(summary.provider.breaker.state).toBe('closed');
    expect(r.stdout).not.toContain(kSecretKey);
  });

  test('a record the provider rejects goes to the errors file as PROVIDER_REJECTED with its message; the rest succeed; exit 3', async () => {
    const server = await startServer();
    const dir = tempDir();
    const input = writeJsonl(join(dir, 'in.jsonl'), rows(20, [7]));
    const out = join(dir, 'out.npy');
    const r = await vecforgeAsync(['embed', '--input', input, '--output', out, ...providerArgs(server.baseUrl, '--cache-dir', dir)]);
    expect(r.status).toBe(3);
    expect(readNpy(out).rows).toBe(19);
    const errors = readFileSync(join(dir, 'out.errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line: 8, id: 'd7', code: 'PROVIDER_REJECTED' });
    expect(String(errors[0]?.reason)).toContain("maximum context length is 8192 tokens");
  });
});

describe('provider CLI: the API key', () => {
  test('VECFORGE_API_KEY, else OPENAI_API_KEY, else the config file; never printed by info, config or --json', async () => {
    const server = await startServer();
    const dir = tempDir();
    const config = join(dir, 'vecforge.config.yaml');
    writeFileSync(config, `engine:\n  model: "openai:m"\n  workers: 1\n  cacheDir: ${JSON.stringify(dir)}\nprovider:\n  baseUrl: ${JSON.stringify(server.baseUrl)}\n  apiKey: file-${kSecretKey}\n`);
    // No --dims: info asks one probe request, whose Authorization header shows which key was used.
    const cases: Array<[NodeJS.ProcessEnv, string]> = [
      [{}, `file-${kSecretKey}`],
      [{ OPENAI_API_KEY: `openai-${kSecretKey}` }, `openai-${kSecretKey}`],
      [{ OPENAI_API_KEY: `openai-${kSecretKey}`, VECFORGE_API_KEY: `vf-${kSecretKey}` }, `vf-${kSecretKey}`],
    ];
    for (const [env, key] of cases) {
      const before = server.requests.length;
      const info = await vecforgeAsync(['info', '--json'], { cwd: dir, env });
      expect(info.status).toBe(0);
      expect(server.requests).toHaveLength(before + 1);
      expect(server.requests[before]?.authorization).toBe(`Bearer ${key}`);
      expect(info.stdout + info.stderr).not.toContain(kSecretKey);
      expect((JSON.parse(info.stdout) as { modelFiles: { apiKey: string } }).modelFiles.apiKey).toBe('set');
    }
    for (const json of [[], ['--json']]) {
      const shown = await vecforgeAsync(['config', ...json], { cwd: dir });
      expect(shown.status).toBe(0);
      expect(shown.stdout).toContain('(set)');
      expect(shown.stdout + shown.stderr).not.toContain(kSecretKey);
    }
  });

  test('a refused key fails with a message that says so, without the key; exit 1', async () => {
    const server = await startServer({ apiKey: 'the-right-key' });
    const dir = tempDir();
    const input = writeJsonl(join(dir, 'in.jsonl'), rows(3));
    const r = await vecforgeAsync(['embed', '--input', input, '--output', join(dir, 'o.npy'), ...providerArgs(server.baseUrl, '--cache-dir', dir)], { env: { OPENAI_API_KEY: kSecretKey } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/refused the API key \(HTTP 401\)/);
    expect(r.stdout + r.stderr).not.toContain(kSecretKey);
  });
});

describe('provider CLI: validation names the flag, the variable or the key', () => {
  test.each([
    [['--concurrency', '0'], {}, '--concurrency must be an integer in [1, 64], got "0"'],
    [['--max-batch-items', '4096'], {}, '--max-batch-items must be an integer in [1, 2048], got "4096"'],
    [['--base-url', 'ftp://example.com'], {}, '--base-url must be an http(s) URL, got "ftp://example.com"'],
    [['--requests-per-minute', '-1'], {}, '--requests-per-minute must be an integer in [0, 1000000], got "-1"'],
    [[], { VECFORGE_PROVIDER__MAX_RETRIES: '1000' }, 'environment variable VECFORGE_PROVIDER__MAX_RETRIES must be an integer in [0, 100], got "1000"'],
    [[], { VECFORGE_PROVIDER__TOKENS_PER_MINUTE: 'lots' }, 'environment variable VECFORGE_PROVIDER__TOKENS_PER_MINUTE must be an integer in [0, 1000000000], got "lots"'],
  ] as Array<[string[], NodeJS.ProcessEnv, string]>)('%j %j', async (flags, env, message) => {
    const dir = tempDir();
    const r = await vecforgeAsync(['embed', '--input', 'x.jsonl', '--output', join(dir, 'o.npy'), '--model', 'openai:m', '--base-url', 'http://127.0.0.1:9/v1', ...flags], { env });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
  });

  test('a provider flag with a local model is refused; a bad key in the config file is named without its value', async () => {
    const local = await vecforgeAsync(['embed', '--input', 'x.jsonl', '--output', 'o.npy', '--base-url', 'http://127.0.0.1:9/v1']);
    expect(local.status).toBe(2);
    expect(local.stderr).toContain('--base-url applies to a remote provider model (--model openai:NAME), but the model is "glove-100d"');
    const dir = tempDir();
    writeFileSync(join(dir, 'vecforge.config.json'), JSON.stringify({ provider: { apiKey: 987654321 } }));
    const bad = await vecforgeAsync(['config'], { cwd: dir });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('config.provider.apiKey must be a non-empty string, got a number (not shown: a secret)');
    expect(bad.stderr).not.toContain('987654321');
  });
});
