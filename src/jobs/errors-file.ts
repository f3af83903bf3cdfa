/**
 * errors.jsonl: one line per record that failed.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, truncateSync, writeSync } from 'node:fs';
import { VecforgeError } from '../errors.js';
import type { JobFailureCode } from './records.js';

/** A record that failed, as errors.jsonl has it. */
export interface Failure {
  readonly line: number;
  readonly id?: string;
  readonly code: JobFailureCode | string;
  readonly reason: string;
}

/** Appends to errors.jsonl; fsynced at checkpoints. */
export class ErrorsFile {
  readonly #fd: number;
  readonly path: string;

  constructor(path: string, keepBytes: number) {
    this.path = path;
    try {
      if (existsSync(path)) truncateSync(path, keepBytes);
      this.#fd = openSync(path, 'a');
    } catch (error) {
      throw new VecforgeError('ERR_IO', `cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
    }
  }

  write(failures: readonly Failure[]): void {
    if (failures.length === 0) return;
    const text = failures.map((f) => `${JSON.stringify(f)}\n`).join('');
    const bytes = Buffer.from(text, 'utf8');
    let written = 0;
    try {
      while (written < bytes.length) written += writeSync(this.#fd, bytes, written, bytes.length - written);
    } catch (error) {
      throw new VecforgeError('ERR_IO', `cannot write ${this.path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
    }
  }

  /** Flushes to disk and returns the file size. */
  sync(): number {
    fsyncSync(this.#fd);
    return fstatSync(this.#fd).size;
  }

  close(): void {
    closeSync(this.#fd);
  }
}
