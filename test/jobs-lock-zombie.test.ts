/**
 * A job killed with SIGKILL whose parent does not reap it lingers as a
 * zombie holding its pid (`process.kill(pid, 0)` succeeds on it). A rerun
 * started at once must take the lock over: through the kernel lock (flock,
 * released when the job died) where the addon is built, and through the
 * zombie-aware liveness check where it is not.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { acquireLock, processAlive, readLock } from '../src/jobs/lock.js';
import { loadNativeAddon } from '../src/native/addon.js';
import { kRepoRoot, tempDir } from './helpers.js';

const kLockModule = pathToFileURL(join(kRepoRoot, 'dist', 'src', 'jobs', 'lock.js')).href;
// A job: takes the lock, reports it on stdout, then holds it ('hold') or
// releases it and reports who it took the lock over from ('once').
const kJob = `
import { acquireLock } from ${JSON.stringify(kLockModule)};
const lock = acquireLock(process.argv[1], 'zombie test job');
process.stdout.write(JSON.stringify({ pid: process.pid, tookOver: lock.tookOver?.pid ?? null }) + '\\n');
if (process.argv[2] === 'hold') setInterval(() => {}, 60000);
else lock.release();
`;
/** Environment that makes the addon unavailable (the portable fallback). */
const kNoAddon = { ...process.env, VECFORGE_HNSW_ADDON: '/nonexistent/vecforge_hnsw.node' };

const parents: ChildProcess[] = [];
afterEach(() => {
  // Killing the parent hands the zombie to init, which reaps it.
  for (const p of parents.splice(0)) p.kill('SIGKILL');
});

function procState(pid: number): string | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}

/** Polls `check` until it returns a value (the event happened) or the deadline passes. */
async function until<T>(what: string, check: () => T | null, deadlineMs = 20_000): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = check();
    if (value !== null) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Starts a job under a shell parent that `exec`s into `sleep` and so never
 * waits for it, waits for the job to report the lock taken, SIGKILLs the
 * job and waits until it is a zombie.
 * @returns the zombie's pid.
 */
async function zombieJob(dir: string, env: NodeJS.ProcessEnv): Promise<number> {
  const marker = join(dir, 'job.out');
  const parent = spawn('sh', ['-c', '"$0" --input-type=module -e "$1" "$2" hold > "$3" & exec sleep 120', process.execPath, kJob, dir, marker], { env, stdio: 'ignore' });
  parents.push(parent);
  const line = await until('the job to take the lock', () => {
    const text = existsSync(marker) ? readFileSync(marker, 'utf8') : '';
    return text.endsWith('\n') ? text : null;
  });
  const pid = (JSON.parse(line) as { pid: number }).pid;
  expect(readLock(join(dir, '.lock'))?.pid).toBe(pid);
  process.kill(pid, 'SIGKILL');
  await until('the killed job to become a zombie', () => (procState(pid) === 'Z' ? true : null));
  // Still a zombie: its parent (sleep) never waits. kill(pid, 0) succeeds on it.
  expect(procState(pid)).toBe('Z');
  expect(() => process.kill(pid, 0)).not.toThrow();
  return pid;
}

describe.skipIf(process.platform !== 'linux')('a job killed with SIGKILL and left a zombie', () => {
  test('is seen as dead by processAlive', async () => {
    const dir = tempDir();
    const pid = await zombieJob(dir, process.env);
    expect(processAlive(pid)).toBe(false);
  });

  test.skipIf(!loadNativeAddon().ok)('with the addon: a rerun at once takes over the kernel lock', async () => {
    const dir = tempDir();
    const pid = await zombieJob(dir, process.env);
    const lock = acquireLock(dir, 'rerun');
    try {
      expect(lock.tookOver?.pid).toBe(pid);
      expect(readLock(lock.path)).toMatchObject({ pid: process.pid, command: 'rerun' });
      // Held: a second job is refused while this one lives.
      expect(() => acquireLock(dir, 'second')).toThrow(expect.objectContaining({ code: 'ERR_LOCKED' }) as Error);
    } finally {
      lock.release();
    }
    expect(existsSync(lock.path)).toBe(false);
  });

  test('without the addon: a rerun at once takes over (the zombie is dead to the liveness check)', async () => {
    const dir = tempDir();
    const pid = await zombieJob(dir, kNoAddon);
    const rerun = spawnSync(process.execPath, ['--input-type=module', '-e', kJob, dir, 'once'], { env: kNoAddon, encoding: 'utf8' });
    expect(rerun.stderr).toBe('');
    expect(rerun.status).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ tookOver: pid });
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });

  test('without the addon: a live holder is still refused', async () => {
    const dir = tempDir();
    const marker = join(dir, 'job.out');
    const holder = spawn('sh', ['-c', '"$0" --input-type=module -e "$1" "$2" hold > "$3"', process.execPath, kJob, dir, marker], { env: kNoAddon, stdio: 'ignore' });
    parents.push(holder);
    const line = await until('the job to take the lock', () => {
      const text = existsSync(marker) ? readFileSync(marker, 'utf8') : '';
      return text.endsWith('\n') ? text : null;
    });
    const pid = (JSON.parse(line) as { pid: number }).pid;
    const rerun = spawnSync(process.execPath, ['--input-type=module', '-e', kJob, dir, 'once'], { env: kNoAddon, encoding: 'utf8' });
    expect(rerun.status).toBe(1);
    expect(rerun.stderr).toContain(`is locked by process ${pid}`);
    process.kill(pid, 'SIGKILL');
  });
});
