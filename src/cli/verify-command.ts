/**
 * `vecforge verify DIR`: checksums, counts, the graph loads, stored vectors
 * find themselves.
 */
import { Engine, verifyIndex, type EngineCreateOptions } from '../index.js';
import { kExitFatal, kExitOk } from './exit-codes.js';

/**
 * Verifies an index and prints each check.
 * @param dir - the index directory.
 * @param options - engine options and output mode.
 * @returns 0 when every check passed, 1 otherwise.
 */
export async function runVerify(dir: string, options: { engine: EngineCreateOptions; json: boolean }): Promise<number> {
  const engine = await Engine.create(options.engine);
  try {
    const report = await verifyIndex(dir, engine);
    if (options.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      for (const c of report.checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}\n`);
      process.stdout.write(report.ok ? `${report.dir} (${report.version ?? '?'}) is sound\n` : `${report.dir} failed verification\n`);
    }
    return report.ok ? kExitOk : kExitFatal;
  } finally {
    await engine.close();
  }
}
