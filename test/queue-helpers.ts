/**
 * Processes of the queue tests: `vecforge worker` and the coordinator
 * (`vecforge build|reindex --queue`) as child processes whose JSON event
 * lines on stderr the test waits for (the event, never a timer).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { kBin } from './jobs-helpers.js';
import { kRepoRoot, kTestCacheDir } from './helpers.js';

/** A child process and the JSON lines it wrote on stderr so far. */
export interface Watched {
  readonly child: ChildProcess;
  readonly events: Record<string, unknown>[];
  /** stdout so far. */
  stdout(): string;
  /** stderr so far (JSON and other lines). */
  stderr(): string;
  /** Resolves with the first event (past or future) that matches. */
  waitFor(match: (e: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
  /** Resolves with the exit code (null when killed) once it has exited. */
  exited: Promise<number | null>;
}

/**
 * Starts the CLI and watches its stderr events.
 * @param args - its arguments.
 * @returns the watched process.
 */
export function startCli(args: readonly string[]): Watched {
  const child = spawn(process.execPath, [kBin, ...args], { cwd: kRepoRoot, env: { ...process.env, VECFORGE_CACHE_DIR: kTestCacheDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Record<string, unknown>[] = [];
  const waiters: { match: (e: Record<string, unknown>) => boolean; done: (e: Record<string, unknown>) => void }[] = [];
  let out = '';
  let err = '';
  let partial = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
    partial += c.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const e = JSON.parse(line) as Record<string, unknown>;
      events.push(e);
      for (const w of waiters.splice(0)) {
        if (w.match(e)) w.done(e);
        else waiters.push(w);
      }
    }
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    events,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (match, what) => {
      const seen = events.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((done, fail) => {
        waiters.push({ match, done });
        void exited.then((code) => fail(new Error(`exited (${String(code)}) before ${what}; stderr: ${err.slice(-2000)}`)));
      });
    },
  };
}

/**
 * Starts a shard worker and waits until it takes jobs.
 * @param url - the Redis URL.
 * @param extra - more flags (--lock-ms, --stalled-ms).
 * @returns the watched worker.
 */
export async function startWorker(url: string, extra: readonly string[] = []): Promise<Watched> {
  const w = startCli(['worker', '--queue', url, '--workers', '1', ...extra]);
  await w.waitFor((e) => e.event === 'ready', 'the worker is ready');
  return w;
}

/**
 * Stops a process (SIGTERM, or SIGKILL when asked) and waits for it.
 * @param w - the process.
 * @param signal - the signal. @default 'SIGTERM'
 * @returns its exit code.
 */
export async function stopCli(w: Watched, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill(signal);
  return w.exited;
}
