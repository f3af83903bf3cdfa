/**
 * The terms the index suite's sides run on, gathered so the report can
 * state them next to every ratio: compile flags of each side (the addon's
 * as node-gyp wrote them, the baseline's as compiled), the kernel's
 * transparent-huge-page mode and what each side asks of it, the page
 * cache state of the load figures, the machine's load average.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { nativeHnswAvailable } from '../internals.js';
import type { AddonCompileFlags, HnswBenchBuild } from '../native/build.js';

/** The kernel's THP settings, e.g. `madvise` and `madvise`; `n/a` off Linux. */
export interface ThpMode {
  readonly enabled: string;
  readonly defrag: string;
}

function bracketed(file: string): string {
  try {
    return /\[([^\]]+)\]/.exec(readFileSync(file, 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'n/a';
  }
}

/**
 * Reads the kernel's transparent-huge-page mode.
 * @returns the selected `enabled` and `defrag` values.
 */
export function thpMode(): ThpMode {
  return { enabled: bracketed('/sys/kernel/mm/transparent_hugepage/enabled'), defrag: bracketed('/sys/kernel/mm/transparent_hugepage/defrag') };
}

/** The one-minute load average, two decimals (the box is shared: every figure says how busy it was). */
export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
}

/**
 * The version of an installed npm package, or `unknown`.
 * @param name - the package name.
 */
export function packageVersion(name: string): string {
  const root = packageRoot(name);
  if (root === undefined) return 'unknown';
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * The directory of an installed package (its `exports` may hide
 * package.json, so this walks up from its entry point).
 * @param name - the package name.
 * @returns the directory, or undefined when not installed.
 */
export function packageRoot(name: string): string | undefined {
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve(name));
  } catch {
    return undefined;
  }
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === name) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** How hnswlib-node's binary was built: node-gyp's flags from its makefile when it was compiled here. */
export function hnswlibNodeFlags(): string {
  try {
    const dir = join(packageRoot('hnswlib-node') ?? '', 'build');
    const mk = readdirSync(dir).find((f) => f.endsWith('.target.mk'));
    if (mk === undefined) return 'node-gyp defaults (makefile not found)';
    const text = readFileSync(join(dir, mk), 'utf8');
    // The Release block only: `CFLAGS_Release := \` then one flag a line.
    const release = text.slice(text.indexOf('CFLAGS_Release :='));
    const block = release.slice(0, release.search(/\n\s*\n/) >>> 0);
    const flags = new Set<string>();
    for (const m of block.matchAll(/^\t(-O\d|-march=\S+|-f[a-z-]+)\s*\\?$/gm)) if (m[1] !== undefined) flags.add(m[1]);
    return `node-gyp, ${[...flags].filter((f) => /^-(O\d|march)/.test(f)).join(' ') || 'no -O/-march'}`;
  } catch {
    return 'unknown';
  }
}

/** The usearch binary the bench loads: prebuilt for this platform, or compiled here. */
export function usearchBinary(): string {
  const root = packageRoot('usearch');
  if (root === undefined) return 'not installed';
  if (existsSync(join(root, 'build', 'Release', 'usearch.node'))) return 'compiled here by node-gyp';
  return `prebuilt ${process.platform}-${process.arch} binary from npm (its own SIMD dispatch at run time)`;
}

/** Every file under a directory, recursively (the engine's index version). */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

/** What {@link evictFromPageCache} did. */
export interface Eviction {
  readonly bytes: number;
  /** The largest fraction of any file's pages still cached after the eviction (0 = fully cold). */
  readonly residentFraction: number;
}

/**
 * Drops files from the page cache (fdatasync + posix_fadvise DONTNEED,
 * through the native baseline's `--evict`; no root needed) and checks with
 * mincore how much stayed.
 * @param binary - the hnsw_bench executable.
 * @param files - the files.
 * @returns total bytes and the largest resident fraction left.
 */
export function evictFromPageCache(binary: string, files: readonly string[]): Eviction {
  const out = JSON.parse(execFileSync(binary, ['--evict', ...files], { encoding: 'utf8' })) as { evicted: Array<{ bytes: number; resident_fraction: number }> };
  return {
    bytes: out.evicted.reduce((a, e) => a + e.bytes, 0),
    residentFraction: out.evicted.reduce((a, e) => Math.max(a, e.resident_fraction < 0 ? 1 : e.resident_fraction), 0),
  };
}

/** The equal-terms table's rows: one per term, one column per side. */
export function equalTermsRows(args: {
  readonly addon: AddonCompileFlags;
  readonly native: HnswBenchBuild;
  readonly thp: ThpMode;
  readonly threads: number;
  readonly m: number;
  readonly efConstruction: number;
  readonly pairRows: number;
  readonly rows: number;
  readonly cache: string;
}): Array<Array<string | number>> {
  const { addon, native, thp, threads, m, efConstruction, pairRows, rows, cache } = args;
  const addonState = !nativeHnswAvailable() ? 'NOT LOADED: the engine runs on hnswlib-node (fallback)' : addon.portable ? 'portable fallback build (no -march)' : `-march=${addon.march ?? '?'} build`;
  const codegen = (flags: readonly string[]): string => [...new Set(flags.filter((f) => /^-(O\d|march=|fomit|fno-semantic|ffast-math)/.test(f)))].join(' ');
  return [
    ['rows built', rows, rows, rows, `${pairRows} (paired with native on 1 thread, same ${pairRows} rows)`],
    ['M / efConstruction / space', `${m} / ${efConstruction} / cosine`, `${m} / ${efConstruction} / cosine`, `connectivity ${m} / expansion_add ${efConstruction} / cos`, `${m} / ${efConstruction} / cosine`],
    ['build threads', threads, threads, threads, '1 (no multi-threaded insert)'],
    ['compile flags', `${codegen(addon.flags)} (${addonState})`, codegen(native.flags), usearchBinary(), hnswlibNodeFlags()],
    [
      `transparent huge pages (kernel: enabled=${thp.enabled}, defrag=${thp.defrag})`,
      'madvise on new and loaded graphs',
      'madvise on new and loaded graphs (--huge-pages=1, the addon’s code)',
      'none asked (its own allocator)',
      'none asked',
    ],
    ['timed build region', 'addBatch only (create/close/delete outside)', 'the ParallelFor of addPoint only', 'the one add(keys, vectors, threads) call', 'the addPoint loop only (rows converted before)'],
    ['sweep warm-up', 'one untimed pass per ef (tinybench)', 'one untimed pass per ef', 'one untimed pass per ef', 'one untimed pass per ef'],
    ['graph searched', 'its own, saved and reopened', 'its own, saved and reloaded', 'its own, saved and reloaded per ef', 'native’s saved graph, readIndex'],
    ['load figure page cache', cache, cache, cache, cache],
  ];
}

/** Sum of the sizes of files. */
export function totalBytes(files: readonly string[]): number {
  return files.reduce((a, f) => a + statSync(f).size, 0);
}
