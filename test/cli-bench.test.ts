/**
 * `vecforge bench` is a launcher: the library imports no bench code, and
 * the command hands its flags to the @vecforge/bench package's runner.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { benchEntry } from '../src/cli/bench-command.js';
import { kRepoRoot } from './helpers.js';
import { vecforge } from './jobs-helpers.js';

describe('vecforge bench', () => {
  test('finds the bench package of this checkout and passes its flags through', () => {
    expect(benchEntry()).toBe(join(kRepoRoot, 'bench', 'dist', 'main.js'));
    const r = vecforge(['bench', '--suite', 'nope']);
    expect(r.stderr).toContain('unknown suite "nope"; known: embed, batch, exchange');
    expect(r.status).toBe(2);
  });

  test('no file under src/ imports the bench package', () => {
    const files = readdirSync(join(kRepoRoot, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(0);
    const offenders = files.filter((f) => /from ['"][^'"]*(\/bench\/|@vecforge\/bench)/.test(readFileSync(join(kRepoRoot, 'src', f), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
