/**
 * The checks native/graph_format.cc makes on a graph file, in TypeScript,
 * for the hnswlib-node fallback: its `readIndexSync` trusts every header
 * field and neighbour id, so a hostile file would crash the process there.
 * Layout (hnswlib's saveIndex, little-endian): 6 size_t, int max level,
 * uint32 entry point, 3 size_t, double mult, size_t efConstruction; then
 * count level-0 elements of sizeDataPerElement bytes; then per element a
 * uint32 byte count and that many bytes of upper-level link lists.
 */

const kHeaderBytes = 96;
const kMaxM = 2048;
const kMaxEf = 1_048_576;
const kMaxLevel = 64;
const kMaxU32 = 0xffff_ffff;
const kNoEntryPoint = 0xffff_ffff;
const kMultTolerance = 1e-6;
/** Capacity a load may have beyond the file's own elements, in bytes (as native/graph_format.cc). */
const kLoadHeadroomBytes = 64 * 2 ** 20;

function corrupt(why: string): never {
  throw new RangeError(`the graph bytes are not a graph this build can load: ${why}`);
}

/** A size_t field as a number, refusing values past 2^53 (no real file has them). */
function size(view: DataView, at: number, name: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) corrupt(`${name} (${v}) is out of range`);
  return Number(v);
}

/** Checks a neighbour list (count in the low 16 bits of its first word, then uint32 ids). */
function listOk(view: DataView, at: number, capacity: number, count: number, levels?: Int32Array, level = 0): boolean {
  const n = view.getUint16(at, true);
  if (n > capacity) return false;
  for (let k = 0; k < n; k++) {
    const id = view.getUint32(at + 4 + k * 4, true);
    if (id >= count) return false;
    if (levels !== undefined && (levels[id] ?? -1) < level) return false;
  }
  return true;
}

/** The header fields a loader needs from a checked graph file. */
export interface GraphFileHeader {
  readonly m: number;
  readonly efConstruction: number;
  readonly count: number;
}

/**
 * Validates a graph file's bytes: every header field, every neighbour id and
 * level, the labels, and that the bytes end with the last element.
 * @param bytes - the whole file.
 * @param dims - the dims the caller expects.
 * @param what - how the file is named in a dims mismatch.
 * @returns the header fields a loader needs.
 * @throws {RangeError} naming the first problem (the caller maps it to ERR_INDEX_CORRUPT).
 */
export function checkGraphFile(bytes: Uint8Array, dims: number, what = 'the graph file'): GraphFileHeader {
  if (bytes.length < kHeaderBytes) corrupt('the header is cut short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsetLevel0 = size(view, 0, 'offsetLevel0');
  const maxElements = size(view, 8, 'maxElements');
  const count = size(view, 16, 'element count');
  const sizeDataPerElement = size(view, 24, 'element size');
  const labelOffset = size(view, 32, 'label offset');
  const offsetData = size(view, 40, 'offsetData');
  const maxLevel = view.getInt32(48, true);
  const enterPoint = view.getUint32(52, true);
  const maxM = size(view, 56, 'maxM');
  const maxM0 = size(view, 64, 'maxM0');
  const m = size(view, 72, 'M');
  const mult = view.getFloat64(80, true);
  const efConstruction = size(view, 88, 'efConstruction');
  if (m < 2 || m > kMaxM) corrupt(`M (${m}) is out of range [2, ${kMaxM}]`);
  if (maxM !== m) corrupt(`maxM (${maxM}) is not M (${m})`);
  if (maxM0 !== 2 * m) corrupt(`maxM0 (${maxM0}) is not 2 × M (${2 * m})`);
  const links0 = maxM0 * 4 + 4;
  if (offsetLevel0 !== 0 || offsetData !== links0) corrupt('unexpected level-0 layout (offsetData is not the level-0 link size maxM0 × 4 + 4)');
  if (labelOffset !== offsetData + dims * 4) throw new RangeError(`dims (${dims}) does not match ${what} (${labelOffset >= offsetData ? Math.floor((labelOffset - offsetData) / 4) : 0} dims)`);
  if (sizeDataPerElement !== labelOffset + 8) corrupt('unexpected element size');
  if (count > maxElements || maxElements > kMaxU32) corrupt('element count out of range');
  // hnswlib-node allocates the file's capacity as it is (the addon caps it instead).
  if (maxElements > count + Math.max(count, Math.floor(kLoadHeadroomBytes / sizeDataPerElement))) corrupt(`capacity (${maxElements}) is far beyond the element count (${count})`);
  if (efConstruction < 1 || efConstruction > kMaxEf) corrupt(`efConstruction (${efConstruction}) is out of range [1, ${kMaxEf}]`);
  const expectMult = 1 / Math.log(m);
  if (!Number.isFinite(mult) || !(mult > 0) || Math.abs(mult - expectMult) > kMultTolerance * expectMult) corrupt(`level multiplier mult (${mult}) is not 1/ln(M) = ${expectMult}`);
  if (count === 0) {
    if (enterPoint !== kNoEntryPoint || maxLevel !== -1) corrupt('an empty graph must have entry point -1 and max level -1');
  } else {
    if (enterPoint >= count) corrupt(`entry point (${enterPoint}) is not below the element count (${count})`);
    if (maxLevel < 0 || maxLevel > kMaxLevel) corrupt(`max level (${maxLevel}) is out of range [0, ${kMaxLevel}]`);
  }
  // Sizes before any per-element work, so that a lying count costs nothing.
  const tailStart = kHeaderBytes + count * sizeDataPerElement;
  if (tailStart + count * 4 > bytes.length) corrupt('the level-0 block is cut short');
  const live = new Set<number>();
  for (let i = 0; i < count; i++) {
    const at = kHeaderBytes + i * sizeDataPerElement;
    if (!listOk(view, at, maxM0, count)) corrupt('a level-0 neighbour list is out of range');
    const label = view.getBigUint64(at + labelOffset, true);
    if (label > BigInt(kMaxU32)) corrupt(`element ${i} has label ${label}, above 2^32 - 1`);
    // hnswlib's DELETE_MARK: bit 0 of the third byte of the level-0 size word.
    if (((bytes[at + 2] ?? 0) & 0x01) === 0) {
      if (live.has(Number(label))) corrupt(`label ${label} is on two live elements`);
      live.add(Number(label));
    }
  }
  const links = maxM * 4 + 4;
  const levels = new Int32Array(count);
  const starts = new Float64Array(count);
  let at = tailStart;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) corrupt('the upper levels are cut short');
    const n = view.getUint32(at, true);
    at += 4;
    if (n % links !== 0 || n / links > maxLevel || bytes.length - at < n) corrupt('an upper-level list is out of range');
    levels[i] = n / links;
    starts[i] = at;
    at += n;
  }
  if (at !== bytes.length) corrupt('bytes after the last element');
  if (count > 0 && levels[enterPoint] !== maxLevel) corrupt(`the entry point (element ${enterPoint}) has level ${levels[enterPoint]}, not the max level ${maxLevel}`);
  for (let i = 0; i < count; i++) {
    for (let l = 1; l <= (levels[i] ?? 0); l++) {
      if (!listOk(view, (starts[i] ?? 0) + (l - 1) * links, maxM, count, levels, l)) corrupt(`an upper-level neighbour list is out of range (element ${i}, level ${l})`);
    }
  }
  return { m, efConstruction, count };
}
