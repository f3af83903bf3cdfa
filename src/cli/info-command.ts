/**
 * `vecforge info`: the engine's backend, model and cache locations; with a
 * directory, the index's manifest, counts, sizes and any job in progress.
 */
import { Engine, inspectIndex, type EngineCreateOptions } from '../index.js';
import { kExitFatal, kExitOk } from './exit-codes.js';
import { isShardedIndex } from '../index/sharded/layout.js';
import { inspectShardedIndex } from '../jobs/shards/inspect.js';

/**
 * Prints engine info.
 * @param options - engine options and output mode.
 * @returns the exit code.
 */
export async function runInfo(options: { engine: EngineCreateOptions; json: boolean }): Promise<number> {
  const engine = await Engine.create(options.engine);
  try {
    const info = engine.info();
    if (options.json) process.stdout.write(`${JSON.stringify(info)}\n`);
    else {
      process.stdout.write(`backend:   ${info.backend}\nmodel:     ${info.model} (${info.modelId}), ${info.dims} dims\nworkers:   ${info.workers}\ncache dir: ${info.cacheDir}\n`);
      for (const [k, v] of Object.entries(info.modelFiles)) process.stdout.write(`  ${k}: ${v}\n`);
    }
    return kExitOk;
  } finally {
    await engine.close();
  }
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

/**
 * Prints what an index directory holds (no engine needed; the files' sizes
 * are compared with the manifest, their bytes are not: `verify` does that).
 * @param dir - the index directory.
 * @param json - one JSON object instead of text.
 * @returns the exit code.
 */
export function runIndexInfo(dir: string, json: boolean): number {
  if (isShardedIndex(dir)) return runShardedInfo(dir, json);
  const d = inspectIndex(dir);
  // A damaged index is not described as if it were whole: say so, and fail.
  const damaged = d.problems.length > 0;
  if (damaged) process.stderr.write(`vecforge: ${d.dir} is damaged: ${d.problems.join('; ')}; run \`vecforge verify ${dir}\` for a full check\n`);
  if (json) {
    process.stdout.write(`${JSON.stringify(d)}\n`);
    return damaged ? kExitFatal : kExitOk;
  }
  const m = d.manifest;
  const status: string[] = [];
  if (d.errors > 0) status.push(`errors:     ${d.errors} in ${d.dir}/errors.jsonl`);
  if (d.job !== null) status.push(`in progress: ${String(d.job.kind)} job, ${d.job.phase}, checkpointed at line ${d.job.line} (${d.job.counts.read} records) at ${d.job.updatedAt}; rerun it to resume`);
  if (d.lock !== null) status.push(`lock:       held by process ${d.lock.pid} (${d.lock.alive ? 'running' : 'not running: the next job takes it over'})`);
  if (m === null) {
    process.stdout.write(`${[`index:      ${d.dir}`, 'version:    none published yet', ...status].join('\n')}\n`);
    return kExitOk;
  }
  const lines = [
    `index:      ${d.dir}`,
    `version:    ${d.version ?? ''} (of ${d.versions.join(', ')}), created ${m.createdAt}`,
    `format:     ${m.format} v${m.formatVersion}`,
    `model:      ${m.model !== null ? `${m.model.id}, ${m.model.dims} dims` : `none (vectors of ${m.dims} dims)`}`,
    `space:      ${m.space}; M=${m.params.m}, efConstruction=${m.params.efConstruction}, efSearch=${m.params.efSearch}`,
    `documents:  ${m.counts.count} (${m.counts.deleted} deleted slots, capacity ${m.counts.capacity})`,
    `size:       ${mib(d.totalBytes)}`,
    ...Object.entries(d.files).map(([name, bytes]) => `  ${name.padEnd(16)} ${mib(bytes)}`),
  ];
  const p = d.pca;
  if (p !== null) {
    const pct = p.explainedVarianceRatio !== null ? `explained variance ${(100 * p.explainedVarianceRatio).toFixed(1)}%` : 'not fitted yet';
    const fitted = p.fittedOn !== null ? ` (fitted on ${p.fittedOn} vectors, sample ${p.sample})` : ` (sample ${p.sample})`;
    lines.push(
      `pca:        ${p.inputDims} → ${p.outputDims} dims, ${pct}${fitted}`,
      `rerank:     ${p.rerank ? `on, top k × ${p.rerankFactor} rescored on full vectors (float16) kept ${p.rerankStorage === 'memory' ? 'in memory' : 'on disk'}` : 'off (no full vectors kept)'}`,
      `per vector: ${p.bytesPerVector.withPca} B with PCA, ${p.bytesPerVector.withoutPca} B without (graph${p.rerankStorage === 'memory' && p.rerank ? ' + full vector in memory' : ''}); vector data ${p.vectorBytesPerVector.withPca} B vs ${p.vectorBytesPerVector.withoutPca} B`,
      `memory:     ${mib(p.memoryBytes)} (graph${p.rerank && p.rerankStorage === 'memory' ? ' + full vectors' : ''}); disk: ${mib(p.diskBytes)}${p.rerank ? ` (full vectors ${mib(p.fullVectorBytes)})` : ''}`,
    );
  }
  const lex = d.lexical;
  if (lex !== null) lines.push(`lexical:    BM25 (k1 ${lex.k1}, b ${lex.b}, stop words ${lex.stopWords}), ${lex.segments} segment${lex.segments === 1 ? '' : 's'}, ${mib(lex.diskBytes)} on disk (${lex.diskBytesPerDoc} B a document)`);
  const job = m.extra.job as { kind?: string; source?: string; finishedAt?: string; counts?: Record<string, number> } | undefined;
  if (job !== undefined) {
    const c = job.counts ?? {};
    lines.push(`last job:   ${job.kind ?? '?'} from ${job.source ?? '?'} at ${job.finishedAt ?? '?'}: ${c.added ?? 0} added, ${c.updated ?? 0} updated, ${c.deleted ?? 0} deleted, ${c.failed ?? 0} failed`);
  }
  process.stdout.write(`${[...lines, ...status].join('\n')}\n`);
  return damaged ? kExitFatal : kExitOk;
}

/**
 * Prints what a sharded index holds: its set, and every shard's figures.
 * @param dir - the sharded index directory.
 * @param json - one JSON object instead of text.
 * @returns the exit code (1 when a shard looks damaged).
 */
function runShardedInfo(dir: string, json: boolean): number {
  const d = inspectShardedIndex(dir, inspectIndex);
  const damaged = d.problems.length > 0;
  if (damaged) process.stderr.write(`vecforge: ${d.dir} is damaged: ${d.problems.join('; ')}; run \`vecforge verify ${dir}\` for a full check\n`);
  if (json) {
    process.stdout.write(`${JSON.stringify(d)}\n`);
    return damaged ? kExitFatal : kExitOk;
  }
  const m = d.shards[0]?.manifest ?? null;
  const lines = [`index:      ${d.dir} (sharded, ${d.shardCount} shards)`, `version:    ${d.version ?? 'none published yet'}${d.versions.length > 0 ? ` (of ${d.versions.join(', ')})` : ''}${d.set !== null ? `, created ${d.set.createdAt}` : ''}`];
  if (m !== null) {
    lines.push(
      `model:      ${m.model !== null ? `${m.model.id}, ${m.model.dims} dims` : `none (vectors of ${m.dims} dims)`}`,
      `space:      ${m.space}; M=${m.params.m}, efConstruction=${m.params.efConstruction}, efSearch=${m.params.efSearch}`,
    );
  }
  lines.push(`documents:  ${d.count}`, `size:       ${mib(d.totalBytes)}`);
  d.shards.forEach((s, i) => {
    const entry = d.set?.shards[i];
    lines.push(`  shard ${String(i).padStart(3)}: ${s.manifest?.counts.count ?? 0} documents, ${mib(s.totalBytes)}, shard version ${entry?.shardVersion ?? '?'}`);
  });
  for (const j of d.jobs) lines.push(`in progress: shard ${j.shard}, ${j.phase}, ${j.read} records checkpointed; rerun the job to resume`);
  if (d.lock !== null) lines.push(`lock:       held by process ${d.lock.pid} (${d.lock.alive ? 'running' : 'not running: the next job takes it over'})`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return damaged ? kExitFatal : kExitOk;
}
