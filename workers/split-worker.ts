/**
 * A split thread of a sharded job's coordinator (src/jobs/shards/split-parallel.ts):
 * reads its byte range of the input into per-shard part files, reports
 * the range, joins the shard files it is then given, and exits.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../src/errors.js';
import { lineStartAtOrAfter } from '../src/io/lines.js';
import { joinParts, splitFailureReason, splitLines } from '../src/jobs/shards/split-lines.js';
import type { SplitThreadInit, SplitThreadReply, SplitThreadRequest } from '../src/jobs/shards/split-protocol.js';

const init = workerData as SplitThreadInit;
const port = parentPort as NonNullable<typeof parentPort>;

function post(message: SplitThreadReply): void {
  port.postMessage(message);
}

function fail(error: unknown): void {
  post({ kind: 'failed', reason: splitFailureReason(error), error: serializeError(error) });
  port.close();
}

port.on('message', (message: SplitThreadRequest) => {
  if (message.kind !== 'join') return;
  try {
    post({ kind: 'joined', sha256: message.jobs.map((j) => ({ shard: j.shard, sha256: joinParts(j.parts, j.out) })) });
    port.close();
  } catch (error) {
    fail(error);
  }
});

async function run(): Promise<void> {
  try {
    const startByte = lineStartAtOrAfter(init.input, init.fromByte);
    const endByte = init.toByte === null ? undefined : lineStartAtOrAfter(init.input, init.toByte);
    const r = await splitLines(init.input, init.parts, { shards: init.shards, idField: init.idField, maxRecordBytes: init.maxRecordBytes, hash: false, sync: false, startByte, endByte: endByte !== undefined ? Math.max(startByte, endByte) : undefined });
    post({ kind: 'range', lines: r.lines, read: r.read, failed: r.failed, records: r.records });
  } catch (error) {
    fail(error);
  }
}

void run();
