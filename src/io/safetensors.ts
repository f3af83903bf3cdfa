/**
 * A bounded safetensors reader: the 8-byte header length, the JSON header,
 * and float tensors (F32, F16, BF16) read as float32. Every size in the
 * header is checked against the file before anything is allocated, so a
 * header that lies is refused with an error, never a crash or a huge
 * allocation.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { VecforgeError } from '../errors.js';

/** Bytes per element of every safetensors dtype. */
export const kSafetensorsDtypeBytes: Readonly<Record<string, number>> = Object.freeze({
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
});

/** The dtypes {@link readTensorF32} converts to float32. */
export const kSafetensorsFloatDtypes = Object.freeze(['F32', 'F16', 'BF16'] as const);

/** Largest JSON header accepted (the format's own reference reader caps it at 100 MB). */
export const kMaxSafetensorsHeaderBytes = 100 * 1024 * 1024;

/** One tensor of a safetensors file. */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Absolute byte offset of its data in the file. */
  readonly begin: number;
  /** Absolute byte offset one past its data. */
  readonly end: number;
}

/** A parsed, validated safetensors header. */
export interface SafetensorsHeader {
  readonly path: string;
  readonly fileBytes: number;
  /** Where the data section starts (8 + header length). */
  readonly dataOffset: number;
  readonly tensors: ReadonlyMap<string, SafetensorsEntry>;
  readonly metadata: Readonly<Record<string, string>>;
}

function corrupt(path: string, what: string): VecforgeError {
  return new VecforgeError('ERR_MODEL', `${path}: not a valid safetensors file: ${what}`);
}

function readExactly(fd: number, into: Uint8Array, position: number): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += n;
  }
}

/**
 * Reads and validates the header of a safetensors file: the header length
 * fits the file, the JSON is an object of tensors, each with a known dtype,
 * a shape of non-negative integers whose element count × dtype size equals
 * its byte range, a range inside the data section, and no two ranges
 * overlapping.
 * @param path - the file.
 * @returns the header.
 * @throws {VecforgeError} ERR_MODEL naming the file and what is wrong.
 */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    return parseHeader(fd, path);
  } finally {
    closeSync(fd);
  }
}

function parseHeader(fd: number, path: string): SafetensorsHeader {
  const fileBytes = fstatSync(fd).size;
  if (fileBytes < 8) throw corrupt(path, `the file is ${fileBytes} bytes, shorter than the 8-byte header length`);
  const lengthBytes = new Uint8Array(8);
  readExactly(fd, lengthBytes, 0);
  const headerLength = new DataView(lengthBytes.buffer).getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(fileBytes - 8, kMaxSafetensorsHeaderBytes))) {
    throw corrupt(path, `the header length ${headerLength} is over the ${Math.min(fileBytes - 8, kMaxSafetensorsHeaderBytes)} bytes the file allows`);
  }
  const n = Number(headerLength);
  const raw = new Uint8Array(n);
  readExactly(fd, raw, 8);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (error) {
    throw corrupt(path, `the header is not UTF-8 JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw corrupt(path, 'the header is not a JSON object');
  const dataOffset = 8 + n;
  const dataBytes = fileBytes - dataOffset;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) metadata = value as Record<string, string>;
      continue;
    }
    if (value === null || typeof value !== 'object') throw corrupt(path, `tensor "${name}" is not an object`);
    const { dtype, shape, data_offsets: offsets } = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const size = typeof dtype === 'string' ? kSafetensorsDtypeBytes[dtype] : undefined;
    if (size === undefined) throw corrupt(path, `tensor "${name}" has dtype ${JSON.stringify(dtype)}, not one of ${Object.keys(kSafetensorsDtypeBytes).join(', ')}`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) throw corrupt(path, `tensor "${name}" has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isSafeInteger(o) || (o as number) < 0)) throw corrupt(path, `tensor "${name}" has data_offsets ${JSON.stringify(offsets)}, not two non-negative integers`);
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataBytes) throw corrupt(path, `tensor "${name}" has data_offsets [${begin}, ${end}] outside the ${dataBytes}-byte data section`);
    // The element count is bounded by the byte range before it is multiplied
    // out, so a lying shape cannot overflow into a plausible number.
    const dims = shape as number[];
    let elements = dims.includes(0) ? 0 : 1;
    for (const d of dims) {
      if (elements === 0 || elements * size > end - begin) break;
      elements *= d;
    }
    if (elements * size !== end - begin) throw corrupt(path, `tensor "${name}" has shape [${(shape as number[]).join(', ')}] of ${dtype as string}, which is not its ${end - begin} bytes`);
    tensors.set(name, { name, dtype: dtype as string, shape: shape as number[], begin: dataOffset + begin, end: dataOffset + end });
  }
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1] as SafetensorsEntry;
    const cur = sorted[i] as SafetensorsEntry;
    if (cur.begin < prev.end) throw corrupt(path, `tensors "${prev.name}" and "${cur.name}" overlap`);
  }
  return { path, fileBytes, dataOffset, tensors, metadata };
}

/**
 * Converts IEEE half-precision bits to a float.
 * @param h - the 16 bits.
 * @returns the value.
 */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const kChunkBytes = 1 << 20;
const bits = new Uint32Array(1);
const word = new Float32Array(bits.buffer);

/**
 * Reads one float tensor into a float32 array, converting F16 and BF16.
 * @param header - the file's validated header.
 * @param entry - the tensor (from `header.tensors`).
 * @param into - receives the values; its length must be the element count.
 * @throws {VecforgeError} ERR_MODEL for a non-float dtype or a short read.
 */
export function readTensorF32(header: SafetensorsHeader, entry: SafetensorsEntry, into: Float32Array): void {
  const size = kSafetensorsDtypeBytes[entry.dtype] ?? 0;
  if (!(kSafetensorsFloatDtypes as readonly string[]).includes(entry.dtype)) {
    throw new VecforgeError('ERR_MODEL', `${header.path}: tensor "${entry.name}" is ${entry.dtype}; only ${kSafetensorsFloatDtypes.join(', ')} weights are supported`);
  }
  if (into.length * size !== entry.end - entry.begin) throw new RangeError(`readTensorF32: destination holds ${into.length} values, the tensor ${(entry.end - entry.begin) / size}`);
  const fd = openSync(header.path, 'r');
  try {
    const chunk = new Uint8Array(Math.min(kChunkBytes, Math.max(8, entry.end - entry.begin)));
    const view = new DataView(chunk.buffer);
    let o = 0;
    for (let at = entry.begin; at < entry.end; at += chunk.length) {
      const bytes = Math.min(chunk.length, entry.end - at);
      try {
        readExactly(fd, chunk.subarray(0, bytes), at);
      } catch (error) {
        throw corrupt(header.path, error instanceof Error ? error.message : String(error));
      }
      if (entry.dtype === 'F32') {
        for (let b = 0; b < bytes; b += 4) into[o++] = view.getFloat32(b, true);
      } else if (entry.dtype === 'F16') {
        for (let b = 0; b < bytes; b += 2) into[o++] = halfToFloat(view.getUint16(b, true));
      } else {
        // bfloat16 is the top half of a float32.
        for (let b = 0; b < bytes; b += 2) {
          bits[0] = view.getUint16(b, true) << 16;
          into[o++] = word[0] as number;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}
