/**
 * Property tests of the .npy reader: any bytes, and any edit of a real file,
 * either read back as rows × dims float32 values the file holds, or fail
 * with a VecforgeError; never another error, never an allocation larger
 * than the file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { VecforgeError } from '../src/errors.js';
import { NpyWriter, readNpy } from '../src/io/npy.js';
import { tempDir } from './helpers.js';
import { kFuzzRuns, kFuzzSeed } from './fuzz-settings.js';

const kRuns = { seed: kFuzzSeed, numRuns: kFuzzRuns } as const;

afterEach(() => {
  vi.restoreAllMocks();
});

function realFile(dir: string): Buffer {
  const path = join(dir, 'real.npy');
  const w = new NpyWriter(path, 4);
  w.write(Float32Array.from({ length: 4 * 6 }, (_, i) => i / 7));
  w.close();
  return readFileSync(path);
}

/** Reads `bytes` as a .npy file: 'ok' with a consistent shape, or 'refused' with a VecforgeError. */
function outcome(path: string, bytes: Uint8Array): 'ok' | 'refused' {
  writeFileSync(path, bytes);
  const alloc = vi.spyOn(Buffer, 'alloc');
  try {
    const { data, rows, dims } = readNpy(path);
    expect(data.length).toBe(rows * dims);
    expect(rows * dims * 4).toBeLessThanOrEqual(bytes.length);
    return 'ok';
  } catch (error) {
    expect(error).toBeInstanceOf(VecforgeError);
    return 'refused';
  } finally {
    expect(alloc.mock.calls.filter(([size]) => size > bytes.length + 4096)).toEqual([]);
    alloc.mockRestore();
  }
}

function setup(): { path: string; real: Buffer } {
  const dir = tempDir();
  return { path: join(dir, 'fuzz.npy'), real: realFile(dir) };
}

describe('fuzz: .npy reader', () => {
  test('the unedited file reads back', () => {
    const { path, real } = setup();
    expect(outcome(path, real)).toBe('ok');
    expect(readNpy(path).rows).toBe(6);
  });

  test('random bytes are read or refused with a VecforgeError', () => {
    const { path } = setup();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => void outcome(path, bytes)), kRuns);
  });

  test('byte edits and truncations of a real file are read or refused with a VecforgeError', () => {
    const { path, real } = setup();
    const edit = fc.record({ at: fc.nat({ max: real.length - 1 }), value: fc.integer({ min: 0, max: 255 }), cut: fc.nat({ max: real.length }) });
    let refused = 0;
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        const bytes = Buffer.from(real);
        for (const e of edits) bytes[e.at] = e.value;
        const cut = edits[0]!.cut;
        if (outcome(path, bytes.subarray(0, Math.max(cut, 1))) === 'refused') refused++;
      }),
      kRuns,
    );
    // The edits reach the header often enough that some files must be refused.
    expect(refused).toBeGreaterThan(0);
  });
});
