import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { corpusRows, vecforge, vecforgeAtCheckpoint, writeDoubleCorpus, type CheckpointLine } from './jobs-helpers.js';
import { tempDir } from './helpers.js';

// Small chunks and frequent checkpoints: a signal after the first
// checkpoint lands with most of the input still to read.
const kJobFlags = ['--chunk-size', '250', '--checkpoint-items', '500', '--no-embedding-cache', '--progress', 'log', '--workers', '2'];

/** The build, its output directory, and a rerun that must resume. */
function setup(): { out: string; args: string[]; rerun: () => { resumedFrom: { item: number; line: number } | null; state: string } } {
  const dir = tempDir();
  const input = writeDoubleCorpus(join(dir, 'in.jsonl'));
  const out = join(dir, 'idx');
  const args = ['build', '--input', input, '--out', out, ...kJobFlags];
  const rerun = (): { resumedFrom: { item: number; line: number } | null; state: string } => {
    const r = vecforge([...args, '--json']);
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { resumedFrom: { item: number; line: number } | null; state: string };
  };
  return { out, args, rerun };
}

describe('signals on a running job (exit codes as in the README: 130 for Ctrl-C and SIGTERM)', () => {
  test.each(['SIGINT', 'SIGTERM'] as const)('%s stops at the next checkpoint, says how to resume, exits 130; the rerun resumes', async (signal) => {
    const { out, args, rerun } = setup();
    const r = await vecforgeAtCheckpoint(args, 1, (child) => child.kill(signal));
    expect(r.acted, r.stderr).toBe(true);
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).toContain('stopping at the next checkpoint');
    expect(r.stdout).toMatch(/^interrupted after \d+ records; progress is checkpointed in .*\.job\.\nTo resume, run the same command again:\n {2}vecforge build --input /m);
    // It stopped at a checkpoint after the one it was signalled at, and before the end.
    const last = r.checkpoints[r.checkpoints.length - 1] as CheckpointLine;
    expect(r.checkpoints.length).toBeGreaterThanOrEqual(2);
    expect(last.read).toBeLessThan(2 * corpusRows().length);
    const info = vecforge(['info', out]);
    expect(info.status, info.stderr).toBe(0);
    expect(info.stdout).toContain('version:    none published yet');
    expect(info.stdout).toContain(`in progress: build job, running, checkpointed at line ${last.line}`);
    const resumed = rerun();
    expect(resumed).toMatchObject({ state: 'ok', resumedFrom: { line: last.line, item: last.read } });
  });

  test('a second signal exits 130 at once, without the summary; the last checkpoint holds and the rerun resumes from it', async () => {
    const { args, rerun } = setup();
    // Both signals are made pending while the process is stopped, so the
    // second reaches it before the job can reach its next checkpoint.
    const r = await vecforgeAtCheckpoint(args, 1, (child) => {
      child.kill('SIGSTOP');
      child.kill('SIGINT');
      child.kill('SIGTERM');
      child.kill('SIGCONT');
    });
    expect(r.acted, r.stderr).toBe(true);
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).toContain('vecforge: stopped at once; the last checkpoint is kept. Rerun the same command to resume.');
    expect(r.stdout).toBe('');
    const first = r.checkpoints[0] as CheckpointLine;
    const resumed = rerun();
    expect(resumed.state).toBe('ok');
    expect(resumed.resumedFrom?.line).toBeGreaterThanOrEqual(first.line);
  });
});
