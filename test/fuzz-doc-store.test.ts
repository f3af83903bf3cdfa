/**
 * Hostile but well-formed doc stores: random byte and meta-page edits of a
 * real `docs.lmdb` must either open and read, or be refused with a clean
 * VecforgeError (ERR_INDEX_CORRUPT, or ERR_IO where lmdb itself refuses),
 * never crash the process: the file is checked before lmdb maps it.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { open as openLmdb } from 'lmdb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { VecforgeError } from '../src/errors.js';
import { checkLmdbFile } from '../src/store/lmdb-check.js';
import { DocStore, type DocRecord } from '../src/store/doc-store.js';
import { kFuzzRuns, kFuzzSeed } from './fuzz-settings.js';

const kPage = 4096;
/** Meta record fields, from the start of a meta page (24-byte page header first). */
const kMeta = { pgno: 0, flags: 18, magic: 24, version: 28, mapSize: 40, pageSize: 48, freeRoot: 88, mainDepth: 102, mainRoot: 136, lastPage: 144, txnid: 152 } as const;

let dir: string;
let original: Buffer;
let small: Buffer;

function records(n: number): DocRecord[] {
  return Array.from({ length: n }, (_, i) => ({ id: `doc-${i}`, namespace: i % 3 === 0 ? 'a' : '', metadata: { n: i, text: 'x'.repeat(i % 700) }, hash: `h${i}` }));
}

async function writeStore(path: string, n: number): Promise<Buffer> {
  const store = DocStore.open(path);
  const docs = records(n);
  store.save(docs, null);
  // A second, incremental save: a free-space list and both meta pages in use.
  store.save(docs.map((d, i) => (i % 5 === 0 ? { ...d, hash: 'changed' } : d)), Array.from({ length: Math.ceil(n / 5) }, (_, i) => i * 5));
  await store.close();
  return readFileSync(path);
}

let run = 0;
/** Opens `bytes` as a store and reads it; returns 'ok' or the refusal's code. */
async function tryOpen(bytes: Buffer): Promise<string> {
  const path = join(dir, `fuzz-${run++}.lmdb`);
  writeFileSync(path, bytes);
  try {
    let store: DocStore;
    try {
      store = DocStore.open(path, true);
    } catch (error) {
      expect(error).toBeInstanceOf(VecforgeError);
      return (error as VecforgeError).code;
    }
    try {
      store.readTable();
      return 'ok';
    } catch (error) {
      // Values that do not decode: the doc store's own checks, or lmdb's (MDB_CORRUPTED) as an Error.
      expect(error).toBeInstanceOf(Error);
      return error instanceof VecforgeError ? error.code : 'lmdb-error';
    } finally {
      await store.close();
    }
  } finally {
    rmSync(path, { force: true });
    rmSync(`${path}-lock`, { force: true });
  }
}

function refusal(bytes: Buffer): string {
  const path = join(dir, `named-${run++}.lmdb`);
  writeFileSync(path, bytes);
  try {
    checkLmdbFile(path);
    return 'accepted';
  } catch (error) {
    expect(error).toMatchObject({ code: 'ERR_INDEX_CORRUPT' });
    return (error as Error).message;
  } finally {
    rmSync(path, { force: true });
  }
}

describe('doc store files edited by hand', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vecforge-fuzz-docs-'));
    original = await writeStore(join(dir, 'big.lmdb'), 3000);
    small = await writeStore(join(dir, 'small.lmdb'), 40);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('the unedited stores pass the check and read back', async () => {
    expect(original.length).toBeGreaterThan(20 * kPage);
    expect(refusal(original)).toBe('accepted');
    expect(await tryOpen(original)).toBe('ok');
    expect(await tryOpen(small)).toBe('ok');
  });

  const named: Array<[string, (b: Buffer) => void, RegExp]> = [
    ['magic of meta page 0', (b) => b.writeUInt32LE(0xbeefc0df, kMeta.magic), /meta page 0: magic 0xbeefc0df is not 0xbeefc0de/],
    ['version of meta page 1', (b) => b.writeUInt32LE(1, kPage + kMeta.version), /meta page 1: version 1 is not 2/],
    ['page size not a power of two', (b) => b.writeUInt32LE(4095, kMeta.pageSize), /page size 4095 is not a power of two/],
    ['page size of meta page 1 differs', (b) => b.writeUInt32LE(8192, kPage + kMeta.pageSize), /meta page 1: page size 8192 differs/],
    ['last page past the file', (b) => b.writeBigUInt64LE(BigInt(b.length / kPage) + 5n, kMeta.lastPage), /meta page 0: last page \d+ is not within the file's \d+ pages/],
    ['main root past the last page', (b) => b.writeBigUInt64LE(b.readBigUInt64LE(kMeta.lastPage) + 1n, kMeta.mainRoot), /meta page 0: main tree: page \d+ is not within \[2, last page \d+\]/],
    ['main root a meta page', (b) => b.writeBigUInt64LE(1n, kPage + kMeta.mainRoot), /meta page 1: main tree: page 1 is not within/],
    ['free root pointing at a data page', (b) => b.writeBigUInt64LE(b.readBigUInt64LE(kMeta.mainRoot), kMeta.freeRoot), /free-space tree/],
    ['main depth off by one', (b) => b.writeUInt16LE(b.readUInt16LE(kMeta.mainDepth) + 1, kMeta.mainDepth), /main tree: page \d+ at level \d+ of \d+ has flags/],
    ['map size of 2^60', (b) => b.writeBigUInt64LE(2n ** 60n, kMeta.mapSize), /map size \d+ is above 2\^48/],
    ['meta page not marked meta', (b) => b.writeUInt16LE(0, kPage + kMeta.flags), /meta page 1: not marked as meta page 1/],
    ['file cut to one page', (b) => b.fill(0, kPage), /meta page 1/],
  ];

  test.each(named)('%s: refused, naming the problem', async (_name, edit, message) => {
    const bytes = Buffer.from(original);
    edit(bytes);
    expect(refusal(bytes)).toMatch(message);
    expect(await tryOpen(bytes)).toBe('ERR_INDEX_CORRUPT');
  });

  test('a node offset outside its page is refused', () => {
    const bytes = Buffer.from(small);
    const root = Number(bytes.readBigUInt64LE(kMeta.txnid) > bytes.readBigUInt64LE(kPage + kMeta.txnid) ? bytes.readBigUInt64LE(kMeta.mainRoot) : bytes.readBigUInt64LE(kPage + kMeta.mainRoot));
    bytes.writeUInt16LE(kPage - 4, root * kPage + 24);
    expect(refusal(bytes)).toMatch(/main tree: page \d+ node 0: offset \d+ is outside the page's node area|key and data run past the page/);
  });

  test('a segment whose key lies past the live-label set is refused, not padded to (a wrapped label once crashed V8)', async () => {
    const path = join(dir, 'far-key.lmdb');
    copyFileSync(join(dir, 'small.lmdb'), path);
    const env = openLmdb({ path, noSubdir: true, compression: false, maxDbs: 4 });
    const segments = env.openDB<Buffer, number>({ name: 'segments', keyEncoding: 'uint32', encoding: 'binary' });
    const first = segments.getBinary(0);
    expect(first).toBeDefined();
    await segments.put(2_617_245_696, Buffer.from(first as Buffer));
    await env.close();
    const store = DocStore.open(path, true);
    try {
      expect(() => store.readTable()).toThrow(expect.objectContaining({ code: 'ERR_INDEX_CORRUPT', message: 'doc store segment 2617245696 lies past the live-label set (40 labels)' }) as Error);
    } finally {
      await store.close();
    }
  });

  test('a store that is a copy passes the check when opened for writing too', async () => {
    const path = join(dir, 'copy.lmdb');
    copyFileSync(join(dir, 'small.lmdb'), path);
    const store = DocStore.open(path);
    expect(store.readTable().count).toBe(40);
    await store.close();
  });

  test('random byte edits in the meta pages: read, or refused cleanly (seed 42, 300 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat({ max: 2 * kPage - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), async (edits) => {
        const bytes = Buffer.from(small);
        for (const [at, value] of edits) bytes[at % 2 === 0 ? at % 200 : kPage + (at % 200)] = value;
        await tryOpen(bytes);
      }),
      { seed: kFuzzSeed, numRuns: kFuzzRuns },
    );
  });

  test('random byte edits anywhere in the file: read, or refused cleanly (seed 42, 300 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat({ max: small.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), async (edits) => {
        const bytes = Buffer.from(small);
        for (const [at, value] of edits) bytes[at] = value;
        await tryOpen(bytes);
      }),
      { seed: kFuzzSeed, numRuns: kFuzzRuns },
    );
  });
});
