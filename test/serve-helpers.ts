/**
 * Helpers of the server tests: a real `VecforgeServer` on a free loopback
 * port over a real engine and a small index built from the sample corpus,
 * JSON requests with plain fetch, and a strict reader of the Prometheus
 * text format.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/index.js';
import type { ServeOptions } from '../src/serve/options.js';
import { VecforgeServer } from '../src/serve/server.js';
import { kTestCacheDir } from './helpers.js';
import { corpusRows } from './jobs-helpers.js';

/** A started server and what it serves. */
export interface ServeFixture {
  readonly engine: Engine;
  readonly server: VecforgeServer;
  readonly url: string;
  readonly dir: string;
  readonly close: () => Promise<void>;
}

/** The first `n` rows of the sample corpus. */
export function sampleRows(n: number): ReturnType<typeof corpusRows> {
  return corpusRows().slice(0, n);
}

/**
 * Builds an index of the first `n` corpus rows (one version published) with the library.
 * @param engine - the engine.
 * @param root - the directory to build it in (as `notes`).
 * @param n - rows.
 * @returns the index directory.
 */
export async function buildSampleIndex(engine: Engine, root: string, n = 300): Promise<string> {
  const dir = join(root, 'notes');
  const index = await engine.createIndex({ dir, efConstruction: 64 });
  try {
    await index.upsert(sampleRows(n));
    await index.save();
  } finally {
    await index.close();
  }
  return dir;
}

/**
 * Starts an engine (glove-100d, one worker, micro-batching on) and a
 * server on a free loopback port serving a fresh sample index as `notes`.
 * @param options - server options (host and port default to loopback and a free port).
 * @returns the fixture; `close` stops both.
 */
export async function startFixture(options: ServeOptions = {}): Promise<ServeFixture> {
  const engine = await Engine.create({ workers: 1, cacheDir: kTestCacheDir, coalesceMs: 2 });
  // Not tempDir(): a fixture outlives one test (beforeAll/afterAll).
  const root = mkdtempSync(join(tmpdir(), 'vecforge-serve-'));
  try {
    const dir = await buildSampleIndex(engine, root);
    const server = await VecforgeServer.start(engine, { port: 0, saveIntervalMs: 0, indexes: [{ name: 'notes', dir }], ...options }, () => {});
    return {
      engine,
      server,
      url: server.url,
      dir,
      close: async () => {
        await server.close({ drainMs: 1000, save: false });
        await engine.close();
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await engine.close();
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}

/** A JSON answer. */
export interface JsonAnswer {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies.
  readonly body: any;
}

/**
 * Sends a JSON request.
 * @param url - the URL.
 * @param method - the method.
 * @param body - the body (serialised as JSON), if any.
 * @param headers - extra headers.
 * @returns status, headers and the parsed body.
 */
export async function json(url: string, method = 'GET', body?: unknown, headers: Record<string, string> = {}): Promise<JsonAnswer> {
  const init: RequestInit = { method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const r = await fetch(url, init);
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON (the metrics text): the body as it is.
  }
  return { status: r.status, headers: r.headers, body: parsed };
}

/** One sample of the Prometheus text format. */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

// Special values in any case, as Prometheus parses them (Go's ParseFloat): prom-client writes NaN as "Nan" (an event-loop lag gauge before its first sample).
const kSampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:[0-9.eE+-]+|[+]?[Ii][Nn][Ff]|[Nn][Aa][Nn]))(?: -?\d+)?$/;
const kLabel = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * Reads the Prometheus text exposition format strictly: every line is a
 * `# HELP`, a `# TYPE` (of a known type) or a sample; anything else throws.
 * @param text - the exposition.
 * @returns the samples.
 * @throws {Error} naming the first line that is none of these.
 */
export function parsePrometheus(text: string): PromSample[] {
  const samples: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      if (!/^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$/.test(line)) throw new Error(`bad TYPE line: ${line}`);
      continue;
    }
    const m = kSampleLine.exec(line);
    if (m === null) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    const rawLabels = m[2] ?? '';
    for (const l of rawLabels.matchAll(kLabel)) labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number((m[3] as string).replace(/[+]?inf$/i, 'Infinity').replace(/^nan$/i, 'NaN')) });
  }
  return samples;
}

/**
 * The value of one sample.
 * @param samples - parsed samples.
 * @param name - the metric name.
 * @param labels - labels the sample must carry.
 * @returns its value, or 0 when absent.
 */
export function sampleValue(samples: readonly PromSample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value ?? 0;
}
