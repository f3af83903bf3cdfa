/**
 * Checks a doc store's lmdb data file before lmdb maps it. lmdb trusts every
 * byte of its file: a damaged meta page or a page number past the end makes
 * it read outside the map (SIGSEGV, SIGBUS) or abort. A store that passed
 * its checksum can still be hostile (a shared or downloaded index with its
 * manifest edited to match), so the file is read here first, with bounds
 * checks on every read, and refused with ERR_INDEX_CORRUPT naming the problem.
 *
 * Checked, in the format of the lmdb package's own liblmdb (data version 2,
 * 24-byte page headers: pgno, txnid, pad, flags, lower/upper or overflow
 * count; node offsets relative to the end of the header):
 *   - both meta pages: page number and P_META flag, magic 0xBEEFC0DE,
 *     version 2, the same page size (a power of two in [512, 65536]), map
 *     size below 2^48, last page within the file, each core database's
 *     root within [2, last page] (or none for an empty one);
 *   - every page reachable from both metas' free-space and main trees and
 *     from every named database (F_SUBDATA) in the main tree: page number
 *     field, kind (branch above, leaf at the tree's depth), lower/upper
 *     bounds, every node inside its page, every child and overflow run
 *     within the last page, no page reached twice in one tree, and the
 *     tree's page and entry counts as its MDB_db record states them;
 * Not checked: key order within a page (lmdb then finds the wrong record or
 * none; it does not read out of bounds), the values themselves (decoded by
 * msgpackr and the doc store's own checks, in JavaScript), and the contents
 * of the free-space lists (this liblmdb's list format is not plain page
 * numbers; lmdb reads them only when a write transaction reuses pages).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { VecforgeError } from '../errors.js';

const kMagic = 0xbeefc0de;
/** MDB_DATA_VERSION of the liblmdb the lmdb package builds. */
const kDataVersion = 2;
const kPageHeaderBytes = 24;
const kNodeHeaderBytes = 8;
const kDbRecordBytes = 48;
/** Where the meta record starts in a meta page, and its two MDB_db records. */
const kMetaMagic = kPageHeaderBytes;
const kMetaDbs = kMetaMagic + 24;
const kMetaLastPage = kMetaDbs + 2 * kDbRecordBytes;
const kPageBranch = 0x01;
const kPageLeaf = 0x02;
const kPageOverflow = 0x04;
const kPageMeta = 0x08;
const kNodeBigData = 0x01;
const kNodeSubData = 0x02;
const kNodeDupData = 0x04;
const kNoPage = 0xffff_ffff_ffff_ffffn;
/** The x86-64 and arm64 user address space: no larger map can exist. */
const kMaxMapBytes = 2 ** 48;
/** Deeper than any tree of 2^64 entries with at least 2 per page. */
const kMaxDepth = 64;

interface DbRecord {
  readonly depth: number;
  readonly branch: bigint;
  readonly leaf: bigint;
  readonly overflow: bigint;
  readonly entries: bigint;
  readonly root: bigint;
}

function dbRecord(b: Buffer, at: number): DbRecord {
  return { depth: b.readUInt16LE(at + 6), branch: b.readBigUInt64LE(at + 8), leaf: b.readBigUInt64LE(at + 16), overflow: b.readBigUInt64LE(at + 24), entries: b.readBigUInt64LE(at + 32), root: b.readBigUInt64LE(at + 40) };
}

/**
 * Refuses an lmdb data file that lmdb could not map and read safely.
 * @param path - the data file (a doc store's `docs.lmdb`).
 * @throws {VecforgeError} ERR_INDEX_CORRUPT naming the first problem found; ERR_IO when it cannot be read.
 */
export function checkLmdbFile(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new VecforgeError('ERR_IO', `cannot read doc store ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { cause: error });
  }
  try {
    new LmdbChecker(fd, fstatSync(fd).size, path).check();
  } finally {
    closeSync(fd);
  }
}

class LmdbChecker {
  readonly #fd: number;
  readonly #size: number;
  readonly #path: string;
  #pageBytes = 0;
  #lastPage = 0n;

  constructor(fd: number, size: number, path: string) {
    this.#fd = fd;
    this.#size = size;
    this.#path = path;
  }

  #corrupt(why: string): VecforgeError {
    return new VecforgeError('ERR_INDEX_CORRUPT', `doc store ${this.#path} is not an lmdb file this build can open safely: ${why}`);
  }

  #read(offset: number, length: number): Buffer {
    if (offset < 0 || length < 0 || offset + length > this.#size) throw this.#corrupt(`a read of ${length} bytes at ${offset} runs past the end of the file (${this.#size} bytes)`);
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.#fd, out, done, length - done, offset + done);
      if (n <= 0) throw this.#corrupt(`the file ended early at ${offset + done}`);
      done += n;
    }
    return out;
  }

  check(): void {
    if (this.#size < 2 * 512) throw this.#corrupt(`${this.#size} bytes is shorter than two meta pages`);
    const first = this.#read(0, kPageHeaderBytes + 160);
    this.#pageBytes = first.readUInt32LE(kMetaDbs);
    const p = this.#pageBytes;
    if (p < 512 || p > 65536 || (p & (p - 1)) !== 0) throw this.#corrupt(`meta page 0: page size ${p} is not a power of two in [512, 65536]`);
    if (this.#size < 2 * p) throw this.#corrupt(`${this.#size} bytes is shorter than two meta pages of ${p} bytes`);
    const metas = [first, this.#read(p, kPageHeaderBytes + 160)];
    const filePages = BigInt(Math.floor(this.#size / p));
    metas.forEach((m, i) => {
      const where = `meta page ${i}`;
      if (m.readBigUInt64LE(0) !== BigInt(i) || (m.readUInt16LE(18) & kPageMeta) === 0) throw this.#corrupt(`${where}: not marked as meta page ${i}`);
      if (m.readUInt32LE(kMetaMagic) !== kMagic) throw this.#corrupt(`${where}: magic 0x${m.readUInt32LE(kMetaMagic).toString(16)} is not 0xbeefc0de`);
      if (m.readUInt32LE(kMetaMagic + 4) !== kDataVersion) throw this.#corrupt(`${where}: version ${m.readUInt32LE(kMetaMagic + 4)} is not ${kDataVersion}`);
      if (m.readUInt32LE(kMetaDbs) !== p) throw this.#corrupt(`${where}: page size ${m.readUInt32LE(kMetaDbs)} differs from meta page 0's ${p}`);
      if (m.readBigUInt64LE(kMetaMagic + 16) > BigInt(kMaxMapBytes)) throw this.#corrupt(`${where}: map size ${m.readBigUInt64LE(kMetaMagic + 16)} is above 2^48`);
      const last = m.readBigUInt64LE(kMetaLastPage);
      if (last < 1n || last >= filePages) throw this.#corrupt(`${where}: last page ${last} is not within the file's ${filePages} pages`);
    });
    metas.forEach((m, i) => {
      this.#lastPage = m.readBigUInt64LE(kMetaLastPage);
      this.#tree(dbRecord(m, kMetaDbs), `meta page ${i}: free-space tree`, 'free');
      this.#tree(dbRecord(m, kMetaDbs + kDbRecordBytes), `meta page ${i}: main tree`, 'main');
    });
  }

  #pageNumber(pgno: bigint, where: string): number {
    if (pgno < 2n || pgno > this.#lastPage) throw this.#corrupt(`${where}: page ${pgno} is not within [2, last page ${this.#lastPage}]`);
    return Number(pgno);
  }

  /** Walks one B-tree and checks it against its MDB_db record. */
  #tree(db: DbRecord, where: string, kind: 'free' | 'main' | 'named'): void {
    if (db.root === kNoPage) {
      if (db.depth !== 0 || db.entries !== 0n || db.branch + db.leaf + db.overflow !== 0n) throw this.#corrupt(`${where}: no root page but depth ${db.depth} and ${db.entries} entries`);
      return;
    }
    if (db.depth < 1 || db.depth > kMaxDepth) throw this.#corrupt(`${where}: depth ${db.depth} is not in [1, ${kMaxDepth}]`);
    const seen = new Set<number>();
    const counts = { branch: 0n, leaf: 0n, overflow: 0n, entries: 0n };
    const visit = (pgno: bigint, level: number): void => {
      const n = this.#pageNumber(pgno, where);
      if (seen.has(n)) throw this.#corrupt(`${where}: page ${n} is reached twice`);
      seen.add(n);
      const page = this.#read(n * this.#pageBytes, this.#pageBytes);
      const flags = page.readUInt16LE(18);
      const isLeaf = level === db.depth;
      if (page.readBigUInt64LE(0) !== pgno) throw this.#corrupt(`${where}: page ${n} says it is page ${page.readBigUInt64LE(0)}`);
      if ((flags & (kPageBranch | kPageLeaf | kPageOverflow | kPageMeta)) !== (isLeaf ? kPageLeaf : kPageBranch)) throw this.#corrupt(`${where}: page ${n} at level ${level} of ${db.depth} has flags 0x${flags.toString(16)}`);
      const lower = page.readUInt16LE(20);
      const upper = page.readUInt16LE(22);
      if (lower % 2 !== 0 || lower > upper || kPageHeaderBytes + upper > this.#pageBytes) throw this.#corrupt(`${where}: page ${n} has lower ${lower} and upper ${upper}`);
      const keys = lower >> 1;
      if (keys === 0) throw this.#corrupt(`${where}: page ${n} is empty`);
      counts[isLeaf ? 'leaf' : 'branch'] += 1n;
      for (let k = 0; k < keys; k++) {
        const at = kPageHeaderBytes + page.readUInt16LE(kPageHeaderBytes + 2 * k);
        const nodeWhere = `${where}: page ${n} node ${k}`;
        if (at < kPageHeaderBytes + upper || at + kNodeHeaderBytes > this.#pageBytes) throw this.#corrupt(`${nodeWhere}: offset ${at} is outside the page's node area`);
        const lo = page.readUInt16LE(at);
        const hi = page.readUInt16LE(at + 2);
        const nodeFlags = page.readUInt16LE(at + 4);
        const keyBytes = page.readUInt16LE(at + 6);
        if (!isLeaf) {
          if (at + kNodeHeaderBytes + keyBytes > this.#pageBytes) throw this.#corrupt(`${nodeWhere}: the key runs past the page`);
          visit(BigInt(lo) | (BigInt(hi) << 16n) | (BigInt(nodeFlags) << 32n), level + 1);
          continue;
        }
        counts.entries += 1n;
        const dataBytes = lo | (hi << 16);
        const inPage = nodeFlags & kNodeBigData ? 8 : dataBytes;
        if (at + kNodeHeaderBytes + keyBytes + inPage > this.#pageBytes) throw this.#corrupt(`${nodeWhere}: key and data run past the page`);
        if (nodeFlags & kNodeDupData) throw this.#corrupt(`${nodeWhere}: a duplicate-key record, which the doc store never writes`);
        const dataAt = at + kNodeHeaderBytes + keyBytes;
        const data = nodeFlags & kNodeBigData ? this.#overflow(page.readBigUInt64LE(dataAt), dataBytes, nodeWhere, counts) : page.subarray(dataAt, dataAt + dataBytes);
        if (nodeFlags & kNodeSubData) {
          if (kind !== 'main' || dataBytes !== kDbRecordBytes) throw this.#corrupt(`${nodeWhere}: a named database record out of place or of ${dataBytes} bytes`);
          this.#tree(dbRecord(data, 0), `${where} > ${JSON.stringify(page.subarray(at + kNodeHeaderBytes, dataAt).toString('latin1').replace(/\0+$/, ''))}`, 'named');
        }
      }
    };
    visit(db.root, 1);
    if (counts.branch !== db.branch || counts.leaf !== db.leaf || counts.overflow !== db.overflow || counts.entries !== db.entries) {
      throw this.#corrupt(`${where}: holds ${counts.branch}/${counts.leaf}/${counts.overflow} branch/leaf/overflow pages and ${counts.entries} entries; its record says ${db.branch}/${db.leaf}/${db.overflow} and ${db.entries}`);
    }
  }

  /** Checks an overflow run and returns its data (bounded by the file's size). */
  #overflow(pgno: bigint, dataBytes: number, where: string, counts: { overflow: bigint }): Buffer {
    const n = this.#pageNumber(pgno, where);
    const pages = Math.floor((kPageHeaderBytes - 1 + dataBytes) / this.#pageBytes) + 1;
    if (BigInt(n + pages - 1) > this.#lastPage) throw this.#corrupt(`${where}: overflow run of ${pages} pages at page ${n} passes the last page ${this.#lastPage}`);
    const head = this.#read(n * this.#pageBytes, kPageHeaderBytes);
    if (head.readBigUInt64LE(0) !== pgno || (head.readUInt16LE(18) & kPageOverflow) === 0 || head.readUInt32LE(20) !== pages) {
      throw this.#corrupt(`${where}: page ${n} is not an overflow run of ${pages} pages`);
    }
    counts.overflow += BigInt(pages);
    return this.#read(n * this.#pageBytes + kPageHeaderBytes, dataBytes);
  }
}
