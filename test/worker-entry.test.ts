import { describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { embedWorkerEntry } from '../src/scheduler/worker-url.js';

// Piscina require()s its task file before trying import(). When that file is
// an ES module, Node >= 20.19 loads it through a require(esm) facade whose
// failed instantiation (a worker terminated mid-load) aborts the whole
// process; a vitest fork died that way in CI. The pool's entry is therefore
// CommonJS and reaches the ES worker through import().
describe('embed pool entry', () => {
  test('is CommonJS: require() loads it with require(esm) turned off, and it resolves to the task handler', () => {
    const entry = embedWorkerEntry();
    expect(entry.endsWith('.cjs')).toBe(true);
    const script = `
      const loaded = require(${JSON.stringify(entry)});
      if (typeof loaded.then !== 'function') { console.log('not a promise'); process.exit(3); }
      loaded.then((handler) => { console.log(typeof handler, handler.name); });`;
    // --no-experimental-require-module: require() of an ES module throws
    // ERR_REQUIRE_ESM, so this passes only if the entry itself is CommonJS.
    const out = execFileSync(process.execPath, ['--no-experimental-require-module', '-e', script], { encoding: 'utf8' });
    expect(out.trim()).toBe('function handle');
  });
});
