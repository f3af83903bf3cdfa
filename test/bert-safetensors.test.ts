import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { halfToFloat, readSafetensorsHeader, readTensorF32 } from '../src/io/safetensors.js';
import { floatToHalf, rawSafetensors, safetensorsBytes } from './bert-fixtures.js';
import { tempDir } from './helpers.js';

function write(bytes: Uint8Array): string {
  const path = join(tempDir('vecforge-st-'), 'model.safetensors');
  writeFileSync(path, bytes);
  return path;
}

describe('safetensors reader', () => {
  test.each(['F32', 'F16', 'BF16'] as const)('reads %s tensors as float32', (dtype) => {
    const a = Float32Array.of(1, -2, 0.5, 3.25, 0, -0.125);
    const b = Float32Array.of(7, 8);
    const path = write(safetensorsBytes([{ name: 'a', shape: [2, 3], data: a }, { name: 'b', shape: [2], data: b }], dtype));
    const header = readSafetensorsHeader(path);
    expect([...header.tensors.keys()]).toEqual(['a', 'b']);
    expect(header.tensors.get('a')?.shape).toEqual([2, 3]);
    expect(header.metadata).toEqual({ format: 'pt' });
    const out = new Float32Array(6);
    readTensorF32(header, header.tensors.get('a') as never, out);
    expect(Array.from(out)).toEqual(Array.from(a));
  });

  test('half floats round-trip, subnormals and infinities included', () => {
    // Half precision keeps 11 significant bits: relative error at most 2^-11 (subnormals: 2^-25 absolute).
    for (const x of [0, 1, -1, 65504, 2 ** -24, 2 ** -14, 0.1, -3.25]) expect(Math.abs(halfToFloat(floatToHalf(x)) - x)).toBeLessThanOrEqual(Math.max(Math.abs(x) * 2 ** -11, 2 ** -25));
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
  });

  test('a non-float tensor is listed but not read as weights', () => {
    const path = write(rawSafetensors({ ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16)));
    const header = readSafetensorsHeader(path);
    expect(() => readTensorF32(header, header.tensors.get('ids') as never, new Float32Array(2))).toThrow(`${path}: tensor "ids" is I64; only F32, F16, BF16 weights are supported`);
  });

  const t = (offsets: unknown, shape: unknown = [2], dtype: unknown = 'F32'): unknown => ({ dtype, shape, data_offsets: offsets });
  test.each([
    ['a file shorter than 8 bytes', new Uint8Array(4), 'the file is 4 bytes, shorter than the 8-byte header length'],
    ['a header length past the file', rawSafetensors({}, new Uint8Array(0), 1000n), 'the header length 1000 is over the 2 bytes the file allows'],
    ['a huge header length', rawSafetensors({}, new Uint8Array(0), 2n ** 63n), `the header length ${2n ** 63n} is over the 2 bytes the file allows`],
    ['a header that is not JSON', Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{x}')]), 'the header is not UTF-8 JSON'],
    ['a header that is an array', rawSafetensors([], new Uint8Array(0)), 'the header is not a JSON object'],
    ['offsets past the end', rawSafetensors({ a: t([0, 8]) }, new Uint8Array(4)), 'tensor "a" has data_offsets [0, 8] outside the 4-byte data section'],
    ['reversed offsets', rawSafetensors({ a: t([8, 0]) }, new Uint8Array(8)), 'tensor "a" has data_offsets [8, 0] outside the 8-byte data section'],
    ['overlapping tensors', rawSafetensors({ a: t([0, 8]), b: t([4, 12]) }, new Uint8Array(12)), 'tensors "a" and "b" overlap'],
    ['a shape that is not its bytes', rawSafetensors({ a: t([0, 8], [3]) }, new Uint8Array(8)), 'tensor "a" has shape [3] of F32, which is not its 8 bytes'],
    ['a shape that would overflow', rawSafetensors({ a: t([0, 8], [2 ** 40, 2 ** 40, 0.5]) }, new Uint8Array(8)), 'tensor "a" has shape [1099511627776,1099511627776,0.5], not a list of non-negative integers'],
    ['a giant shape', rawSafetensors({ a: t([0, 8], [2 ** 40, 2 ** 40, 2 ** 40]) }, new Uint8Array(8)), 'tensor "a" has shape [1099511627776, 1099511627776, 1099511627776] of F32, which is not its 8 bytes'],
    ['an unknown dtype', rawSafetensors({ a: t([0, 8], [2], 'F8') }, new Uint8Array(8)), 'tensor "a" has dtype "F8", not one of F64, F32'],
    ['negative offsets', rawSafetensors({ a: t([-8, 0]) }, new Uint8Array(8)), 'tensor "a" has data_offsets [-8,0], not two non-negative integers'],
  ])('refuses %s', (_what, bytes, message) => {
    const path = write(bytes);
    expect(() => readSafetensorsHeader(path)).toThrow(`${path}: not a valid safetensors file: ${message}`);
  });
});
