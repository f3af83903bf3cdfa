/**
 * The messages between the split (split-parallel.ts) and its threads
 * (workers/split-worker.ts). A thread reads one byte range of the input
 * into per-shard part files, reports it, then joins the shards it is
 * given and exits.
 */
import type { SerializedError } from '../../errors.js';
import type { SplitFailure } from './split-lines.js';

/** What a split thread starts with (its workerData). */
export interface SplitThreadInit {
  readonly input: string;
  /** The range, before it is moved to line starts: from the first line start at or after `fromByte`… */
  readonly fromByte: number;
  /** …to the first line start at or after `toByte`; null: to the end of the file. */
  readonly toByte: number | null;
  /** This range's part file of each shard. */
  readonly parts: readonly string[];
  readonly shards: number;
  readonly idField: string;
  readonly maxRecordBytes: number;
}

/** One shard file a thread assembles from its parts. */
export interface SplitJoinJob {
  readonly shard: number;
  /** The shard's part files, in range order. */
  readonly parts: readonly string[];
  readonly out: string;
}

/** Main thread → split thread. */
export type SplitThreadRequest = { readonly kind: 'join'; readonly jobs: readonly SplitJoinJob[] };

/** Split thread → main thread. */
export type SplitThreadReply =
  | {
      readonly kind: 'range';
      /** Lines in the range, blank ones included. */
      readonly lines: number;
      /** Non-blank lines. */
      readonly read: number;
      /** Numbered from 1 in the range. */
      readonly failed: readonly SplitFailure[];
      readonly records: readonly number[];
    }
  | { readonly kind: 'joined'; readonly sha256: readonly { readonly shard: number; readonly sha256: string }[] }
  /** `reason`: the file system's code or the error's text, for the split's ERR_IO message. */
  | { readonly kind: 'failed'; readonly reason: string; readonly error: SerializedError };
