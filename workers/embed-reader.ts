/**
 * The reader worker of `vecforge embed`: reads and parses the JSONL input
 * (src/cli/embed-input.ts) off the main thread and posts records in chunks,
 * at most `chunksAhead` ahead of what the main thread has consumed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readEmbedInput, type EmbedReaderAck, type EmbedReaderInit, type EmbedReaderMessage } from '../src/cli/embed-input.js';
import { VecforgeError, serializeError } from '../src/errors.js';

const init = workerData as EmbedReaderInit;
const port = parentPort as NonNullable<typeof parentPort>;
let credits = init.chunksAhead;
let wake: (() => void) | undefined;

port.on('message', (message: EmbedReaderAck) => {
  if (message.kind !== 'ack') return;
  credits++;
  wake?.();
  wake = undefined;
});

function post(message: EmbedReaderMessage): void {
  // The chunk's line numbers move; its strings are copied (cheap next to parsing them).
  port.postMessage(message, message.kind === 'chunk' ? [message.chunk.lines.buffer as ArrayBuffer] : []);
}

async function run(): Promise<void> {
  const started = performance.now();
  let waitedMs = 0;
  try {
    for await (const chunk of readEmbedInput(init.path, init.maxRecordBytes)) {
      if (credits === 0) {
        const t = performance.now();
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        waitedMs += performance.now() - t;
      }
      credits--;
      post({ kind: 'chunk', chunk });
    }
    post({ kind: 'done', busyMs: performance.now() - started - waitedMs });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const wrapped = error instanceof VecforgeError ? error : new VecforgeError('ERR_IO', `cannot read input ${init.path}: ${code ?? String(error)}`, { cause: error });
    post({ kind: 'failed', error: serializeError(wrapped) });
  } finally {
    port.close();
  }
}

void run();
