import { describe, expect, test } from 'vitest';
import { kSuiteAliases, kSuites, runBench } from '../src/main.js';

describe('bench suite names', () => {
  test('every alias names a registered suite; search is the index suite', () => {
    expect(kSuiteAliases.search).toBe('index');
    for (const target of Object.values(kSuiteAliases)) expect(kSuites[target]).toBeTypeOf('function');
  });

  test('an unknown suite is refused before anything runs, naming every valid name', async () => {
    await expect(runBench({ suites: ['nope'] })).rejects.toThrow(
      new RangeError(`unknown suite "nope"; known: ${[...Object.keys(kSuites), ...Object.keys(kSuiteAliases)].join(', ')}, all`),
    );
  });
});
