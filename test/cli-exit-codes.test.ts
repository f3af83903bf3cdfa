import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { describe, expect, test } from 'vitest';
import { VecforgeError } from '../src/index.js';
import { exitCodeFor } from '../src/cli/exit-codes.js';
import { UsageError } from '../src/cli/usage-error.js';
import { smallVectorIndex, vecforge } from './jobs-helpers.js';

describe('exit codes: 2 for the command line and configuration only', () => {
  test('exitCodeFor: usage and config errors are 2; TypeError, RangeError and other errors from deep code are 1', () => {
    expect(exitCodeFor(new UsageError('--k must be ...'))).toBe(2);
    expect(exitCodeFor(new VecforgeError('ERR_CONFIG', 'config file x is not valid JSON'))).toBe(2);
    expect(exitCodeFor(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--nope'"))).toBe(2);
    expect(exitCodeFor(new CommanderError(0, 'commander.helpDisplayed', ''))).toBe(0);
    expect(exitCodeFor(new RangeError('Maximum call stack size exceeded'))).toBe(1);
    expect(exitCodeFor(new TypeError("Cannot read properties of null (reading 'count')"))).toBe(1);
    expect(exitCodeFor(new VecforgeError('ERR_INDEX_CORRUPT', 'index x: broken'))).toBe(1);
    expect(exitCodeFor(new Error('boom'))).toBe(1);
    expect(exitCodeFor('a string')).toBe(1);
  });

  test('a broken manifest exits 1, not 2', () => {
    const { dir, npy } = smallVectorIndex();
    const manifest = join(dir, 'versions', 'v000001', 'manifest.json');
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, unknown>;
    writeFileSync(manifest, JSON.stringify({ ...m, counts: null }));
    for (const args of [['search', dir, '--vectors', npy, '--json', '--workers', '1'], ['info', dir]]) {
      const r = vecforge(args);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/^vecforge: /);
    }
  });

  test('bad flags and bad configuration exit 2 with the message', () => {
    const { dir } = smallVectorIndex();
    const cases: Array<[string[], NodeJS.ProcessEnv, string]> = [
      [['search', dir, '--query', 'x', '--k', '0'], {}, '--k must be an integer in [1, 65536], got "0"'],
      [['search', dir, '--nope'], {}, "unknown option '--nope'"],
      [['search', dir], {}, 'vecforge: search needs exactly one of --query TEXT, --queries FILE.jsonl and --vectors FILE.npy\n'],
      [['build', '--out', join(dir, 'x')], {}, 'vecforge: build needs --input PATH (or job.input in the config)\n'],
      [['build', '--input', 'a.jsonl', '--vectors', 'b.npy', '--out', join(dir, 'x')], {}, 'vecforge: build takes one of --input and --vectors, not both\n'],
      [['verify'], {}, 'vecforge: verify needs an index directory: vecforge verify DIR\n'],
      [['config'], { VECFORGE_SEARCH__K: '0' }, 'vecforge: environment variable VECFORGE_SEARCH__K must be an integer in [1, 65536], got "0"\n'],
    ];
    for (const [args, env, message] of cases) {
      const r = vecforge(args, { env });
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      if (message.endsWith('\n')) expect(r.stderr).toBe(message);
      else expect(r.stderr).toContain(message);
    }
  });
});
