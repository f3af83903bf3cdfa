/**
 * A real Redis for tests: Debian's redis-server on a free loopback port,
 * with its own temp dir and no persistence (`--save '' --appendonly no`),
 * stopped (and its dir removed) by `stop()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's redis-server. */
export const kRedisServer = '/usr/bin/redis-server';

/** A running redis-server. */
export interface TestRedis {
  readonly port: number;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  readonly process: ChildProcess;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

/**
 * A port nobody listens on right now (the kernel's choice).
 * @returns the port.
 */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

/**
 * Starts redis-server on a free port and waits until it accepts connections.
 * @param options - `port` to reuse (a restart after a simulated loss).
 * @returns the server.
 * @throws {Error} when redis-server is missing or does not start within 10 s.
 */
export async function startRedis(options: { port?: number } = {}): Promise<TestRedis> {
  if (!existsSync(kRedisServer)) throw new Error(`${kRedisServer} is missing: install Debian's redis-server (.ci/run does)`);
  const port = options.port ?? (await freePort());
  // Its own directory, removed by stop() (a server outlives single tests).
  const dir = mkdtempSync(join(tmpdir(), 'vecforge-redis-'));
  const child = spawn(kRedisServer, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((done, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`redis-server did not start on port ${port}: ${out.slice(-500)}`)), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        done();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`redis-server exited with ${String(code)}: ${out.slice(-500)}`));
    });
  });
  child.stdout?.resume();
  child.stderr?.resume();
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { port, url: `redis://127.0.0.1:${port}`, process: child, stop };
}

/**
 * Whether ioredis, the Redis driver BullMQ 6 loads (an optional peer
 * dependency), is installed: the BullMQ tests need it.
 * @returns true when it resolves.
 */
export function hasBullmqDriver(): boolean {
  try {
    createRequire(import.meta.url).resolve('ioredis');
    return true;
  } catch {
    return false;
  }
}
