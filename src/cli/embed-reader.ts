/**
 * The main-thread side of the embed reader worker: starts it (before the
 * engine, so the input is parsed while the model loads) and hands its
 * chunks out in order, acknowledging each so the worker reads on.
 */
import { Worker } from 'node:worker_threads';
import { deserializeError } from '../errors.js';
import { workerFile } from '../scheduler/worker-url.js';
import type { EmbedInputChunk, EmbedReaderAck, EmbedReaderInit, EmbedReaderMessage } from './embed-input.js';

/**
 * Chunks the reader may run ahead of the consumer: at most 64 × 4096
 * records or about 64 MiB of input, so a whole corpus of that size is
 * parsed while the engine starts, and a bigger one waits for the embedder.
 */
const kChunksAhead = 64;

/** Reads an embed input file on a worker thread. */
export class EmbedReader {
  readonly #worker: Worker;
  readonly #queue: EmbedReaderMessage[] = [];
  #wake: (() => void) | undefined;
  #exitError: Error | undefined;
  #exited = false;
  #busyMs = 0;

  /**
   * Starts reading at once.
   * @param path - the JSONL input.
   * @param maxRecordBytes - the longest line kept.
   */
  constructor(path: string, maxRecordBytes: number) {
    const init: EmbedReaderInit = { path, maxRecordBytes, chunksAhead: kChunksAhead };
    this.#worker = new Worker(workerFile('embed-reader'), { workerData: init });
    this.#worker.on('message', (message: EmbedReaderMessage) => this.#push(message));
    this.#worker.on('error', (error) => {
      this.#exitError = error;
      this.#push(undefined);
    });
    this.#worker.on('exit', (code) => {
      this.#exited = true;
      if (code !== 0) this.#exitError ??= new Error(`the input reader stopped with exit code ${code}`);
      this.#push(undefined);
    });
  }

  /** Time the worker spent reading and parsing (not waiting for the consumer), once it is done. */
  get busyMs(): number {
    return this.#busyMs;
  }

  #push(message: EmbedReaderMessage | undefined): void {
    if (message !== undefined) this.#queue.push(message);
    this.#wake?.();
    this.#wake = undefined;
  }

  /**
   * The chunks, in input order.
   * @returns an async iterable of chunks.
   * @throws {VecforgeError} ERR_IO when the input cannot be read.
   */
  async *chunks(): AsyncGenerator<EmbedInputChunk> {
    for (;;) {
      const message = this.#queue.shift();
      if (message === undefined) {
        if (this.#exitError !== undefined) throw this.#exitError;
        if (this.#exited) throw new Error('the input reader ended before the end of the input');
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        continue;
      }
      if (message.kind === 'failed') throw deserializeError(message.error);
      if (message.kind === 'done') {
        this.#busyMs = message.busyMs;
        return;
      }
      this.#worker.postMessage({ kind: 'ack' } satisfies EmbedReaderAck);
      yield message.chunk;
    }
  }

  /** Stops the worker (at once, when the command ends early). */
  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
