/**
 * `vecforge build --input` and `vecforge reindex`: the job commands, with
 * progress on a TTY (or one log line per checkpoint elsewhere), Ctrl-C
 * stopping at the next checkpoint, and exit codes from exit-codes.ts.
 */
import { statSync } from 'node:fs';
import { ensureUsableDir } from '../io/usable-dir.js';
import { VecforgeError, buildIndex, reindex, type JobProgress, type JobSummary } from '../index.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { CliConfig } from './cli-config.js';
import { kExitInterrupted, kExitOk, kExitPartial } from './exit-codes.js';
import { lexicalFlagsGiven, lexicalFromConfig } from './lexical-flags.js';
import { namePcaFlag, pcaFromConfig } from './pca-flags.js';
import { createProgress, type Progress } from './progress.js';
import { onInterrupt } from './signals.js';
import { UsageError } from './usage-error.js';
import { engineCreateOptions } from './provider-flags.js';

/** Which job a command runs. */
export type JobCommand = 'build' | 'reindex';

function progressMode(config: ResolvedConfig): 'bar' | 'log' | 'off' {
  const mode = config.output.progress;
  if (mode !== 'auto') return mode;
  return process.stderr.isTTY === true && !config.output.json ? 'bar' : 'log';
}

function reporter(config: ResolvedConfig, totalBytes: number): { onProgress: (p: JobProgress) => void; stop: () => void } {
  const mode = progressMode(config);
  if (mode === 'off') return { onProgress: () => {}, stop: () => {} };
  if (mode === 'bar') {
    const bar: Progress = createProgress(totalBytes, true);
    return { onProgress: (p) => bar.update(p.position.offset, p.counts.read, p.counts.failed), stop: () => bar.stop() };
  }
  return {
    onProgress: (p) => {
      if (!p.checkpoint) return;
      const line = {
        event: 'checkpoint',
        line: p.position.line,
        bytes: p.position.offset,
        totalBytes: p.totalBytes,
        ...p.counts,
        itemsPerSecond: Math.round(p.itemsPerSecond),
        elapsedSeconds: Number((p.elapsedMs / 1000).toFixed(3)),
      };
      process.stderr.write(`${JSON.stringify(line)}\n`);
    },
    stop: () => {},
  };
}

/**
 * The command line that resumes a job: the command as it was typed.
 * @returns the command text.
 */
function rerunCommand(): string {
  const args = process.argv.slice(2).map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`));
  return `vecforge ${args.join(' ')}`;
}

/**
 * Runs `build --input` or `reindex`.
 * @param command - which job.
 * @param cli - the resolved config with its sources.
 * @returns the exit code: 0 ok, 3 some items failed, 130 interrupted.
 * @throws {UsageError} when --input or the directory is missing, or flags conflict.
 */
export async function runJobCommand(command: JobCommand, cli: CliConfig): Promise<number> {
  const { config } = cli;
  const { job, index, output } = config;
  if (job.input === undefined) throw new UsageError(`${command} needs --input PATH (or job.input in the config)`);
  if (job.dir === undefined) throw new UsageError(`${command} needs ${command === 'build' ? '--out DIR' : '--index DIR'} (or job.dir in the config)`);
  // A reindex keeps the index's own PCA; --pca only applies to a --full rebuild.
  const pca = command === 'build' || job.full ? pcaFromConfig(cli) : undefined;
  if (command === 'reindex' && !job.full && cli.sourced.index.pca.source === 'option') {
    throw new UsageError('--pca applies to a new index: add --full to rebuild the index with it, or --refit-pca to refit the PCA it has');
  }
  const pcaSample = cli.sourced.index.pcaSample;
  if (command === 'reindex' && !job.full && !job.refitPca && pcaSample.source === 'option') {
    throw new UsageError('--pca-sample on a reindex needs --refit-pca (refit on that many vectors) or --full --pca DIMS');
  }
  const refitPca = job.refitPca && !job.full && index.pcaSample !== undefined ? { sample: index.pcaSample } : job.refitPca;
  // The lexical options, like --pca, apply to a new index: a build or a --full rebuild.
  const lexical = command === 'build' || job.full ? lexicalFromConfig(cli) : undefined;
  const lexicalFlags = lexicalFlagsGiven(cli);
  if (command === 'reindex' && !job.full && lexicalFlags.length > 0) {
    throw new UsageError(`${lexicalFlags.join(', ')} appl${lexicalFlags.length === 1 ? 'ies' : 'y'} to a new index: add --full to rebuild the index with ${lexicalFlags.length === 1 ? 'it' : 'them'} (a reindex keeps the index's lexical options)`);
  }
  // A bounded check before long work: an output directory under /proc or /sys fails now, not after the input is embedded.
  if (command === 'build') ensureUsableDir(job.dir, { what: 'output directory' });
  let totalBytes = 0;
  try {
    totalBytes = statSync(job.input).size;
  } catch {
    // The job reports an unreadable input itself, with the error code.
  }
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (): void => {
    signals++;
    if (signals > 1) {
      process.stderr.write('\nvecforge: stopped at once; the last checkpoint is kept. Rerun the same command to resume.\n');
      process.exit(kExitInterrupted);
    }
    process.stderr.write('\nvecforge: stopping at the next checkpoint (Ctrl-C again to stop at once)...\n');
    stop.abort();
  };
  const offSignal = onInterrupt(onSignal);
  const progress = reporter(config, totalBytes);
  const common = {
    source: job.input,
    engine: engineCreateOptions(config),
    format: job.format,
    idField: job.idField,
    textField: job.textField,
    namespaceField: job.namespaceField,
    metadataField: job.metadataField,
    checkpointItems: job.checkpointItems,
    checkpointSeconds: job.checkpointSeconds,
    chunkSize: job.chunkSize,
    snippetChars: job.snippetChars,
    maxRecordBytes: job.maxRecordBytes,
    embeddingCache: job.embeddingCache,
    stopSignal: stop.signal,
    onProgress: progress.onProgress,
    command: rerunCommand(),
  };
  let summary: JobSummary;
  try {
    summary =
      command === 'build'
        ? await buildIndex({ ...common, out: job.dir, index: { space: index.space, m: index.m, efConstruction: index.efConstruction, efSearch: index.efSearch, ...(pca !== undefined ? { pca } : {}), ...(lexical !== undefined ? { lexical } : {}) } })
        : await reindex({ ...common, dir: job.dir, keepMissing: job.keepMissing, full: job.full, refitPca, index: { ...givenIndexKeys(cli), ...(pca !== undefined ? { pca } : {}), ...(lexical !== undefined ? { lexical } : {}) } });
  } catch (error) {
    throw providerStopped(namePcaFlag(error), job.dir);
  } finally {
    progress.stop();
    offSignal();
  }
  printSummary(command, summary, output.json);
  if (summary.state === 'interrupted') return kExitInterrupted;
  return summary.state === 'partial' ? kExitPartial : kExitOk;
}

/**
 * A job the remote provider stopped (breaker open, retries spent, key
 * refused) keeps its last checkpoint, and every vector it received is in
 * the embedding cache: the message says so and how to resume.
 * @param error - what the job threw.
 * @param dir - the index directory.
 * @returns the error to report.
 */
function providerStopped(error: unknown, dir: string): unknown {
  if (!(error instanceof VecforgeError) || (error.code !== 'ERR_PROVIDER_UNAVAILABLE' && error.code !== 'ERR_PROVIDER')) return error;
  const message = `${error.message}\nThe job stopped at its last checkpoint (${dir}/.job); the vectors received so far are in the embedding cache. Once the provider answers again, rerun the same command to resume:\n  ${rerunCommand()}`;
  return new VecforgeError(error.code, message, { cause: error });
}

/** For reindex --full, only HNSW parameters set by a flag, env or the file replace the index's own (PCA: see pcaFromConfig). */
function givenIndexKeys(cli: CliConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ['space', 'm', 'efConstruction', 'efSearch'] as const) {
    const entry = cli.sourced.index[key];
    if (entry.source !== 'default') out[key] = entry.value;
  }
  return out;
}

function printSummary(command: JobCommand, s: JobSummary, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...s, seconds: Number(s.seconds.toFixed(3)), itemsPerSecond: Math.round(s.itemsPerSecond), stages: roundStages(s.stages) })}\n`);
    return;
  }
  const c = s.counts;
  if (s.resumedFrom !== null) process.stdout.write(`resumed after line ${s.resumedFrom.line} (record ${s.resumedFrom.item})\n`);
  if (s.discardedCheckpoint !== null) process.stdout.write(`started over: the checkpoint found was not used (${s.discardedCheckpoint})\n`);
  if (s.tookOverLockOf !== null) process.stdout.write(`took over the lock left by process ${s.tookOverLockOf}, which is no longer running\n`);
  if (s.state === 'interrupted') {
    process.stdout.write(`interrupted after ${c.read} records; progress is checkpointed in ${s.dir}/.job.\nTo resume, run the same command again:\n  ${rerunCommand()}\n`);
    return;
  }
  const what =
    command === 'build'
      ? `${c.added} documents`
      : `${c.added} added, ${c.updated} updated, ${c.deleted} deleted, ${c.unchanged} unchanged`;
  const published = s.published ? `published ${s.version}` : `nothing changed; ${s.version ?? 'no version'} stays current`;
  process.stdout.write(`${command === 'build' ? 'built' : 'reindexed'} ${s.dir}: ${what}; ${published}\n`);
  const r = s.pcaRefit;
  if (r !== null) {
    process.stdout.write(`  refitted PCA ${r.inputDims} → ${r.outputDims} dims on ${r.fittedOn} vectors (explained variance ${(100 * r.explainedVarianceRatio).toFixed(1)}%); graph rebuilt from ${r.rebuilt} vectors\n`);
  }
  process.stdout.write(`  ${c.read} records in ${s.seconds.toFixed(2)}s (${Math.round(s.itemsPerSecond)}/s); ${c.embedded} embedded, ${c.cacheHits} from the embedding cache\n`);
  const st = s.stages;
  const total = st.readMs + st.cacheMs + st.embedMs + st.insertMs + st.writeMs + st.otherMs;
  const pct = (ms: number): string => `${((100 * ms) / Math.max(1e-9, total)).toFixed(0)}%`;
  process.stdout.write(`  time: read ${pct(st.readMs)}, embed ${pct(st.embedMs)}, cache ${pct(st.cacheMs)}, insert ${pct(st.insertMs)}, write ${pct(st.writeMs)}, other ${pct(st.otherMs)}\n`);
  if (c.failed > 0) process.stdout.write(`  ${c.failed} records failed: ${s.errorsFile ?? `${s.dir}/errors.jsonl`}\n`);
  const p = s.provider;
  if (p !== null) {
    const retries = Object.values(p.retries).reduce((a, b) => a + b, 0);
    process.stdout.write(`  provider: ${p.requests} requests (${retries} retried, ${p.rateLimited} answered 429), ${p.cacheHits} texts from the cache, latency p50 ${p.latencyMs.p50.toFixed(0)} ms, breaker ${p.breaker.state}\n`);
  }
}

function roundStages(stages: JobSummary['stages']): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(stages)) out[k] = Number(v.toFixed(1));
  return out;
}
