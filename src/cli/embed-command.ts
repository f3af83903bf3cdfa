/**
 * `vecforge embed`: JSONL of {id, text} in, a float32 .npy matrix, an ids
 * file and an errors file out.
 *
 * The main thread only moves records between stages: a reader worker reads
 * and parses the input (started before the engine, so it parses while the
 * model loads), the pool embeds windows of records, and each window's rows
 * and ids are written with asynchronous writes, in input order, as soon as
 * the window is done.
 */
import { createWriteStream, statSync, type WriteStream } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ensureUsableDir } from '../io/usable-dir.js';
import { Engine, VecforgeError, type EmbedResult, type EngineCreateOptions } from '../index.js';
import { NpyStreamWriter } from '../io/npy.js';
import { kExitOk, kExitPartial } from './exit-codes.js';
import { createProgress } from './progress.js';
import { EmbedReader } from './embed-reader.js';

/** Options of the embed command. */
export interface EmbedCommandOptions {
  readonly input: string;
  readonly output: string;
  readonly json: boolean;
  readonly engine: EngineCreateOptions;
  readonly configFile?: string | undefined;
  /** The longest input line, in bytes (`--max-record-bytes`); a longer one fails as TOO_LARGE. */
  readonly maxRecordBytes: number;
}

/** Where the command's time went, in its `--json` summary. */
export interface EmbedStages {
  /** Engine start-up (model load, workers); the reader parses meanwhile. */
  readonly start: { readonly ms: number };
  /** The reader worker's time reading and parsing (not waiting for the embedder), the main thread's wait for input once the engine was ready, lines, bytes, records and failed lines. */
  readonly read: { readonly ms: number; readonly waitMs: number; readonly lines: number; readonly bytes: number; readonly records: number; readonly failed: number };
  /** From the first window sent to the pool to the last one back: windows and items. */
  readonly embed: { readonly ms: number; readonly windows: number; readonly items: number };
  /** Main-thread time queuing rows and ids, plus the wait for the last writes and the rename: rows and bytes of vectors. */
  readonly write: { readonly ms: number; readonly rows: number; readonly bytes: number };
  /** From the engine being ready to the outputs closed: the part the engine's own embedding time compares with. */
  readonly run: { readonly ms: number; readonly mainThreadUtilization: number };
}

/** Windows embedded ahead of the writer. */
const kPrefetchWindows = 2;
/** Vector writes in flight before the writer waits. */
const kWritesInFlight = 4;

interface Window {
  readonly texts: string[];
  readonly ids: string[];
  readonly lines: number[];
}

interface RunningWindow extends Window {
  readonly result: Promise<EmbedResult>;
}

function sidePath(output: string, suffix: string): string {
  return output.endsWith('.npy') ? `${output.slice(0, -4)}${suffix}` : `${output}${suffix}`;
}

function endStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.once('error', reject);
    stream.end(() => resolve());
  });
}

function round(ms: number): number {
  return Number(ms.toFixed(1));
}

/**
 * Runs the command.
 * @param options - parsed flags.
 * @returns the process exit code.
 */
export async function runEmbed(options: EmbedCommandOptions): Promise<number> {
  const started = performance.now();
  let totalBytes: number;
  try {
    totalBytes = statSync(options.input).size;
  } catch (error) {
    throw new VecforgeError('ERR_IO', `cannot read input ${options.input}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  ensureUsableDir(dirname(resolve(options.output)), { what: 'output directory' });
  const reader = new EmbedReader(options.input, options.maxRecordBytes);
  let engine: Engine;
  try {
    engine = await Engine.create(options.engine, options.configFile !== undefined ? { configFile: options.configFile } : {});
  } catch (error) {
    await reader.close();
    throw error;
  }
  const ready = performance.now();
  const eluStart = performance.eventLoopUtilization();
  const { dims, options: engineOptions } = engine.info();
  const idsPath = sidePath(options.output, '.ids.txt');
  const errorsPath = sidePath(options.output, '.errors.jsonl');
  const ids = createWriteStream(idsPath);
  const errors = createWriteStream(errorsPath);
  const progress = createProgress(totalBytes, process.stderr.isTTY && !options.json);
  let npy: NpyStreamWriter | undefined;
  const read = { lines: 0, bytes: 0, records: 0, failed: 0 };
  let failed = 0;
  let count = 0;
  let windows = 0;
  let writeMs = 0;
  let readWaitMs = 0;
  let embedStarted = 0;
  let embedEnded = 0;
  const fail = (line: number, code: string, reason: string, id?: string): void => {
    failed++;
    errors.write(`${JSON.stringify({ line, ...(id !== undefined ? { id } : {}), code, reason })}\n`);
  };
  const inFlight: RunningWindow[] = [];
  const start = (w: Window): void => {
    if (windows++ === 0) embedStarted = performance.now();
    const result = engine.embed(w.texts);
    // Rejections surface when the window is awaited; this only keeps one that
    // fails while an earlier window is written from counting as unhandled.
    result.catch(() => {});
    inFlight.push({ ...w, result });
  };
  const finish = async (w: RunningWindow, out: NpyStreamWriter): Promise<void> => {
    const { vectors, items } = await w.result;
    embedEnded = performance.now();
    const t = performance.now();
    let ok = 0;
    for (const item of items) if (item.state === 'ok') ok++;
    let idsText = '';
    if (ok === items.length) {
      out.write(vectors);
      idsText = `${w.ids.join('\n')}\n`;
    } else {
      const rows = new Float32Array(ok * dims);
      const okIds: string[] = [];
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        if (item?.state === 'ok') {
          rows.set(vectors.subarray(i * dims, (i + 1) * dims), okIds.length * dims);
          okIds.push(w.ids[i] as string);
        } else if (item?.state === 'failed') {
          fail(w.lines[i] as number, item.code, item.reason, w.ids[i]);
        }
      }
      out.write(rows);
      if (okIds.length > 0) idsText = `${okIds.join('\n')}\n`;
    }
    if (idsText !== '') ids.write(idsText);
    count += ok;
    writeMs += performance.now() - t;
    // Backpressure: a disk slower than the pool holds the embedder back
    // instead of letting vectors pile up in memory.
    const w0 = performance.now();
    await out.drain(kWritesInFlight);
    writeMs += performance.now() - w0;
    progress.update(read.bytes, count, failed);
  };
  try {
    npy = await NpyStreamWriter.open(options.output, dims);
    const windowSize = engineOptions.sortWindow;
    let w: Window = { texts: [], ids: [], lines: [] };
    const chunks = reader.chunks();
    for (;;) {
      const t0 = performance.now();
      const next = await chunks.next();
      readWaitMs += performance.now() - t0;
      if (next.done === true) break;
      const chunk = next.value;
      read.lines = chunk.linesRead;
      read.bytes = chunk.bytesRead;
      read.records += chunk.ids.length;
      read.failed += chunk.failures.length;
      for (const f of chunk.failures) fail(f.line, f.code, f.reason, f.id);
      for (let i = 0; i < chunk.ids.length; i++) {
        w.texts.push(chunk.texts[i] as string);
        w.ids.push(chunk.ids[i] as string);
        w.lines.push(chunk.lines[i] as number);
        if (w.texts.length < windowSize) continue;
        start(w);
        w = { texts: [], ids: [], lines: [] };
        while (inFlight.length > kPrefetchWindows) await finish(inFlight.shift() as RunningWindow, npy);
      }
    }
    if (w.texts.length > 0) start(w);
    while (inFlight.length > 0) await finish(inFlight.shift() as RunningWindow, npy);
    const t = performance.now();
    await npy.close();
    await Promise.all([endStream(ids), endStream(errors)]);
    writeMs += performance.now() - t;
  } catch (error) {
    await Promise.allSettled(inFlight.map((r) => r.result));
    await npy?.abort();
    throw error;
  } finally {
    progress.stop();
    if (!ids.closed) ids.end();
    if (!errors.closed) errors.end();
    await reader.close();
    await engine.close();
  }
  const done = performance.now();
  const seconds = (done - started) / 1000;
  const info = engine.info();
  const stages: EmbedStages = {
    start: { ms: round(ready - started) },
    read: { ms: round(reader.busyMs), waitMs: round(readWaitMs), ...read },
    embed: { ms: round(embedEnded - embedStarted), windows, items: read.records },
    write: { ms: round(writeMs), rows: count, bytes: count * dims * 4 },
    run: { ms: round(done - ready), mainThreadUtilization: Number(performance.eventLoopUtilization(eluStart).utilization.toFixed(3)) },
  };
  const provider = engine.metrics().provider;
  const summary = { count, failed, seconds: Number(seconds.toFixed(3)), itemsPerSecond: Math.round(count / seconds), backend: info.backend, workers: info.workers, stages, ...(provider !== undefined ? { provider } : {}) };
  if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(`embedded ${count} texts in ${summary.seconds}s (${summary.itemsPerSecond} items/s, ${info.backend}, ${info.workers} workers)\n`);
    process.stdout.write(`  stages:  start ${stages.start.ms} ms, read ${stages.read.ms} ms, embed ${stages.embed.ms} ms, write ${stages.write.ms} ms\n`);
    process.stdout.write(`  vectors: ${options.output}\n  ids:     ${idsPath}\n`);
    if (failed > 0) process.stdout.write(`  ${failed} rows failed: ${errorsPath}\n`);
    if (provider !== undefined) process.stdout.write(`  provider: ${provider.requests} requests, ${provider.rateLimited} answered 429, breaker ${provider.breaker.state}\n`);
  }
  return failed > 0 ? kExitPartial : kExitOk;
}
