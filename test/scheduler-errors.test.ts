import { afterEach, describe, expect, test } from 'vitest';
import { VecforgeError } from '../src/errors.js';
import type { WorkerInit } from '../src/scheduler/protocol.js';
import { Scheduler } from '../src/scheduler/scheduler.js';
import { embedWorkerEntry } from '../src/scheduler/worker-url.js';

// A pool whose workers are told to build a kernel that does not exist: each
// worker throws a real VecforgeError (ERR_MODEL, from the kernel registry)
// when it first needs its kernel. Tasks that need no kernel still run.
const kBadInit: WorkerInit = { backend: 'wasm', kernel: 'no-such-kernel', shared: null, needsTf: false, fault: null };
const kSettings = { workers: 2, dims: 100, maxTextBytes: 4096, batchTokens: 64, sortWindow: 8192, maxRetries: 1 };

let schedulers: Scheduler[] = [];
afterEach(async () => {
  await Promise.all(schedulers.map((s) => s.close()));
  schedulers = [];
});

function start(): Scheduler {
  const s = new Scheduler(embedWorkerEntry(), kBadInit, kSettings);
  schedulers.push(s);
  return s;
}

describe('worker errors reach the main thread with their code', () => {
  test('several workers failing at once reject with an AggregateError of VecforgeErrors that keep the code', async () => {
    const error = await start().warmUp().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AggregateError);
    const errors = (error as AggregateError).errors;
    expect(errors).toHaveLength(2);
    for (const e of errors) {
      expect(e).toBeInstanceOf(VecforgeError);
      expect(e).toMatchObject({ code: 'ERR_MODEL', message: expect.stringMatching(/unknown embedding kernel "no-such-kernel"; known: glove/) });
      // The stack is the worker's, where the error was thrown.
      expect((e as Error).stack).toMatch(/registry/);
    }
  });

  test('an embedding call that fails on every batch gives up with ERR_WORKER caused by the worker error and its code', async () => {
    const texts = Array.from({ length: 16 }, (_, i) => `text number ${i}`);
    const error = await start().embed(texts).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(VecforgeError);
    expect(error).toMatchObject({ code: 'ERR_WORKER', message: expect.stringMatching(/^every batch failed, giving up: unknown embedding kernel/) });
    expect((error as VecforgeError).cause).toBeInstanceOf(VecforgeError);
    expect((error as VecforgeError).cause).toMatchObject({ code: 'ERR_MODEL' });
  });

  test('a RangeError thrown in a worker task stays a RangeError and is not retried', async () => {
    const scheduler = start();
    // One row: fitPca refuses a sample of fewer than 2 rows.
    const sample = new SharedArrayBuffer(4 * 4);
    const error = await scheduler.run({ kind: 'fit-pca', sample, rows: 1, dims: 4, components: 2, seed: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toMatch(/the PCA sample has 1 rows, fewer than options.components \(2\)/);
    expect(scheduler.metrics.snapshot(0, 2).retries).toBe(0);
  });
});
