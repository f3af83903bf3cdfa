/**
 * Helpers of the provider CLI tests: the CLI run as a child process without
 * blocking this process, whose event loop serves the loopback OpenAI
 * server the CLI talks to (the synchronous runner of jobs-helpers.ts would
 * leave the server unable to answer).
 */
import { spawn } from 'node:child_process';
import { kBin, type CliResult } from './jobs-helpers.js';
import { kRepoRoot } from './helpers.js';

/** A fake API key: its text must never appear in any output. */
export const kSecretKey = 'sk-test-SECRET-4d1f9a0c77e2';

/**
 * Runs the CLI to completion, asynchronously.
 * @param args - its arguments.
 * @param options - working directory and the environment (VECFORGE_API_KEY and OPENAI_API_KEY are removed unless given here).
 * @returns exit status and output.
 */
export function vecforgeAsync(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const { VECFORGE_API_KEY: _a, OPENAI_API_KEY: _b, ...base } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [kBin, ...args], { cwd: options.cwd ?? kRepoRoot, env: { ...base, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * Provider flags for a server: model, base URL, 8 dims (no probe request).
 * @param baseUrl - the server's base URL.
 * @param extra - more flags.
 * @returns the flags.
 */
export function providerArgs(baseUrl: string, ...extra: string[]): string[] {
  return ['--model', 'openai:text-embedding-test', '--base-url', baseUrl, '--dims', '8', '--workers', '1', ...extra];
}
