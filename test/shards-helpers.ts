/**
 * Helpers of the sharded-index tests.
 */
import type { ShardedJobSpec } from '../src/jobs/shards/run.js';

/**
 * A sharded job's spec with the defaults of the CLI.
 * @param over - what differs.
 * @returns the spec.
 */
export function shardSpec(over: Partial<ShardedJobSpec> & Pick<ShardedJobSpec, 'dir' | 'input' | 'kind'>): ShardedJobSpec {
  return {
    shards: undefined,
    model: 'glove-100d',
    fields: { id: 'id', text: 'text', namespace: 'namespace', metadata: 'metadata' },
    chunkSize: 4096,
    checkpointItems: 50_000,
    checkpointSeconds: 60,
    snippetChars: 200,
    maxRecordBytes: 8 * 1024 * 1024,
    embeddingCache: false,
    index: {},
    keepMissing: false,
    full: false,
    command: 'test',
    ...over,
  };
}
