import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { NpyWriter, readNpy } from '../src/io/npy.js';
import { tempDir } from './helpers.js';
import { vecforge } from './jobs-helpers.js';

/** A .npy file: magic, version, header-length field as given, header text, data bytes. */
function npy(path: string, o: { major?: number; headerLen?: number; header?: string; dataBytes?: number }): string {
  const major = o.major ?? 1;
  const header = o.header ?? "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";
  const len = Buffer.alloc(major === 1 ? 2 : 4);
  if (major === 1) len.writeUInt16LE(o.headerLen ?? header.length);
  else len.writeUInt32LE(o.headerLen ?? header.length);
  writeFileSync(path, Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]), len, Buffer.from(header, 'latin1'), Buffer.alloc(o.dataBytes ?? 24)]));
  return path;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('readNpy checks sizes against the file before allocating', () => {
  test('a bogus header length (1.7 GB in a small file) fails at once, naming the file and the sizes, without allocating it', () => {
    const file = npy(join(tempDir(), 'bogus.npy'), { major: 2, headerLen: 0x66666666 });
    const alloc = vi.spyOn(Buffer, 'alloc');
    expect(() => readNpy(file)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_INPUT', message: `${file}: the .npy header says it is 1717986918 bytes long, past the end of the file (96 bytes)` }) as Error,
    );
    expect(alloc.mock.calls.filter(([size]) => size > 4096)).toEqual([]);
  });

  test('a header length inside the file but over 1 MiB is refused', () => {
    const file = npy(join(tempDir(), 'long.npy'), { major: 2, headerLen: 2 << 20, dataBytes: 3 << 20 });
    expect(() => readNpy(file)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_INPUT', message: `${file}: the .npy header says it is 2097152 bytes long, over the limit of 1048576` }) as Error);
  });

  test('a shape that does not match the data is refused before the matrix is allocated', () => {
    const dir = tempDir();
    const big = npy(join(dir, 'big.npy'), { header: "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }\n" });
    const f32 = vi.spyOn(globalThis, 'Float32Array');
    expect(() => readNpy(big)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_INPUT', message: `${big} holds 24 data bytes, expected 40000000000 for shape (100000, 100000)` }) as Error);
    expect(f32).not.toHaveBeenCalled();
    const huge = npy(join(dir, 'huge.npy'), { header: "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }\n" });
    expect(() => readNpy(huge)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_INPUT', message: `${huge} holds 24 data bytes, expected 99999999999 × 99999999999 × 4 for shape (99999999999, 99999999999)` }) as Error,
    );
  });

  test('a truncated preamble and an unknown version are refused', () => {
    const dir = tempDir();
    const short = join(dir, 'short.npy');
    writeFileSync(short, Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]));
    expect(() => readNpy(short)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_INPUT', message: `${short} is not a .npy file` }) as Error);
    const v9 = npy(join(dir, 'v9.npy'), { major: 9 });
    expect(() => readNpy(v9)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_INPUT', message: `${v9}: .npy format version 9 is not supported (1, 2 or 3)` }) as Error);
  });

  test('well-formed files of versions 1 and 2 still read', () => {
    const dir = tempDir();
    const v2 = npy(join(dir, 'v2.npy'), { major: 2 });
    expect(readNpy(v2)).toMatchObject({ rows: 2, dims: 3 });
    const written = join(dir, 'w.npy');
    const w = new NpyWriter(written, 3);
    w.write(Float32Array.from([1, 2, 3, 4, 5, 6]));
    w.close();
    expect(Array.from(readNpy(written).data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('build --vectors with a bogus header length exits 1 with the message', () => {
    const dir = tempDir();
    const file = npy(join(dir, 'bogus.npy'), { major: 2, headerLen: 0x66666666 });
    const r = vecforge(['build', '--vectors', file, '--out', join(dir, 'idx'), '--workers', '1']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`vecforge: ${file}: the .npy header says it is 1717986918 bytes long, past the end of the file (96 bytes) (ERR_INVALID_INPUT)\n`);
  });
});
