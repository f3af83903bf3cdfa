/**
 * Streams a file as lines of bytes, decoding each as strict UTF-8, so that
 * one line of invalid UTF-8 is reported by line number instead of being
 * silently replaced.
 */
import { createReadStream } from 'node:fs';

/** One line of a file. */
export type FileLine =
  | { readonly state: 'ok'; readonly line: number; readonly text: string; readonly bytesRead: number }
  | { readonly state: 'failed'; readonly line: number; readonly reason: string; readonly bytesRead: number };

/**
 * Reads a file line by line (LF or CRLF), with bounded memory.
 * @param path - the file.
 * @param options - `signal` stops reading; `startLine` skips lines before it (1-based).
 * @returns an async iterable of lines, 1-based numbers, with bytes consumed so far.
 */
export async function* readLines(path: string, options: { signal?: AbortSignal; startLine?: number } = {}): AsyncGenerator<FileLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const stream = createReadStream(path, { highWaterMark: 1 << 20, ...(options.signal !== undefined ? { signal: options.signal } : {}) });
  const startLine = options.startLine ?? 1;
  let carry: Buffer = Buffer.alloc(0);
  let line = 0;
  let bytesRead = 0;
  const emit = (bytes: Buffer): FileLine | undefined => {
    line++;
    if (line < startLine) return undefined;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    try {
      return { state: 'ok', line, text: decoder.decode(bytes.subarray(0, end)), bytesRead };
    } catch {
      return { state: 'failed', line, reason: 'line is not valid UTF-8', bytesRead };
    }
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(0x0a, start); nl !== -1; nl = buf.indexOf(0x0a, start)) {
      bytesRead += nl - start + 1;
      const out = emit(buf.subarray(start, nl));
      if (out !== undefined) yield out;
      start = nl + 1;
    }
    buf = buf.subarray(start);
    carry = Buffer.from(buf);
  }
  if (carry.length > 0) {
    bytesRead += carry.length;
    const out = emit(carry);
    if (out !== undefined) yield out;
  }
}
