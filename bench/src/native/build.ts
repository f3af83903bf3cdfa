/**
 * Compiles the native baselines with g++ into `bench/dist/native/bin/`
 * (gitignored):
 *   - `hnsw_bench` from `bench/src/native/hnsw_bench.cpp`, with the same
 *     hnswlib headers the vecforge_hnsw addon uses;
 *   - `matmul` from `bench/src/native/matmul.cpp`, its blocked, vectorised
 *     kernel; and `matmul-openblas`, the same program on OpenBLAS, where
 *     OpenBLAS (headers and library) is installed.
 *
 *   npm run build && node bench/dist/native/build.js
 *
 * Tries `-O3 -march=native` first and, if the compiler rejects it, `-O3`
 * alone. Says exactly which tool is missing when it cannot build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { VecforgeError } from 'vecforge';
import { benchRoot, repoRoot } from '../paths.js';

/** Options of {@link buildHnswBench}; every field is optional. */
export interface HnswBenchBuildOptions {
  /** Try `-march=native` first. @default true */
  readonly marchNative?: boolean;
  /** The C++ compiler to run. @default process.env.CXX ?? 'g++' */
  readonly compiler?: string;
  /** Print the compiler command lines. @default true */
  readonly verbose?: boolean;
  /**
   * Flags added after the optimisation flags, e.g. the addon's own code
   * generation flags ({@link addonCompileFlags}) so both sides of a ratio
   * are compiled alike. @default []
   */
  readonly extraFlags?: readonly string[];
  /** The executable's name in `bench/dist/native/bin/` (tests build their own copy). @default 'hnsw_bench' */
  readonly outputName?: string;
}

/** Defaults of {@link HnswBenchBuildOptions}. */
export const kDefaultHnswBenchBuildOptions: Readonly<Required<HnswBenchBuildOptions>> = Object.freeze({
  marchNative: true,
  compiler: process.env['CXX'] ?? 'g++',
  verbose: true,
  extraFlags: [],
  outputName: 'hnsw_bench',
});

/** The vecforge_hnsw addon's compile flags, as node-gyp wrote them. */
export interface AddonCompileFlags {
  /** Whether build/Release/vecforge_hnsw.node exists. */
  readonly built: boolean;
  /** The C++ flags of the Release build (CFLAGS_Release then CFLAGS_CC_Release), in order. */
  readonly flags: readonly string[];
  /** The `-march=` value, or undefined for the portable build (no -march). */
  readonly march: string | undefined;
  /** Whether native/build.mjs fell back to the portable build. */
  readonly portable: boolean;
}

/** The code-generation flags of the addon that the baseline copies (the rest are warnings, -fPIC, defines). */
const kCodegenFlag = /^-(O\d|march=|mtune=|fomit-frame-pointer$|fno-semantic-interposition$|ffast-math$|funroll)/;

/**
 * Reads the addon's actual compile flags from node-gyp's makefile
 * (`build/vecforge_hnsw.target.mk`), so a report can state them and the
 * native baseline can be compiled with the same code generation.
 * @param root - the repository root. @default repoRoot()
 * @returns the flags; `flags` is empty when the addon was never configured.
 */
export function addonCompileFlags(root: string = repoRoot()): AddonCompileFlags {
  const built = existsSync(path.join(root, 'build', 'Release', 'vecforge_hnsw.node'));
  const mk = path.join(root, 'build', 'vecforge_hnsw.target.mk');
  if (!existsSync(mk)) return { built, flags: [], march: undefined, portable: false };
  const text = readFileSync(mk, 'utf8');
  const lines = text.split('\n');
  // A make variable: `NAME := \` then one flag a line, each but the last ending in a backslash.
  const block = (name: string): string[] => {
    const at = lines.findIndex((l) => l.startsWith(`${name} :=`));
    if (at < 0) return [];
    const out: string[] = [];
    for (let i = at; i < lines.length; i++) {
      const line = lines[i] ?? '';
      const value = (i === at ? line.slice(`${name} :=`.length) : line).replace(/\\$/, '').trim();
      if (value !== '') out.push(value);
      if (!line.endsWith('\\')) break;
    }
    return out;
  };
  const flags = [...block('CFLAGS_Release'), ...block('CFLAGS_CC_Release')];
  const march = flags.find((f) => f.startsWith('-march='))?.slice('-march='.length);
  return { built, flags, march, portable: flags.length > 0 && march === undefined };
}

/**
 * The baseline's flags that match the addon's code generation: its -march
 * (or none, for the portable build) and its optimisation flags.
 * @param addon - from {@link addonCompileFlags}.
 * @returns build options for {@link buildHnswBench}.
 */
export function matchAddonOptions(addon: AddonCompileFlags): HnswBenchBuildOptions {
  if (addon.flags.length === 0) return {};
  const extra = [...new Set(addon.flags.filter((f) => kCodegenFlag.test(f) && !f.startsWith('-O') && !f.startsWith('-march=')))];
  const march = addon.march;
  if (march !== undefined && march !== 'native') extra.push(`-march=${march}`);
  return { marchNative: march === 'native', extraFlags: extra };
}

/** What {@link buildHnswBench} produced. */
export interface HnswBenchBuild {
  /** Absolute path of the executable. */
  readonly binary: string;
  /** The compiler flags that succeeded. */
  readonly flags: readonly string[];
  /** Whether `-march=native` was used. */
  readonly marchNative: boolean;
}

/**
 * The directory that holds `hnswlib/hnswalg.h`: hnswlib-node's `src`.
 * @returns the include directory for `-I`.
 * @throws {VecforgeError} `ERR_NATIVE` when hnswlib-node is not installed.
 */
export function hnswlibIncludeDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('hnswlib-node/package.json');
  } catch (error: unknown) {
    throw new VecforgeError('ERR_NATIVE', 'hnswlib-node is not installed (run `npm ci`): its headers are needed', {
      cause: error,
    });
  }
  const dir = path.join(path.dirname(pkg), 'src');
  if (!existsSync(path.join(dir, 'hnswlib', 'hnswalg.h'))) {
    throw new VecforgeError('ERR_NATIVE', `hnswlib headers not found under ${dir}`);
  }
  return dir;
}

function toolAvailable(command: string): boolean {
  const probe = spawnSync(command, ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

/** One program to compile. */
interface CompileJob {
  /** Source file, relative to the bench package root. */
  readonly source: string;
  /** Executable name inside `bench/dist/native/bin/`. */
  readonly name: string;
  /** Flags after the optimisation flags (includes, defines). */
  readonly extraFlags: readonly string[];
  /** Linker arguments, after the source. */
  readonly libs: readonly string[];
}

/**
 * Checks that the compiler runs, with an install hint when it does not.
 * @param compiler - the compiler command.
 * @param verbose - print a note when make is missing.
 * @throws {VecforgeError} `ERR_NATIVE` when the compiler is missing.
 */
function checkCompiler(compiler: string, verbose: boolean): void {
  if (!toolAvailable(compiler)) {
    const hint = process.platform === 'darwin' ? 'xcode-select --install' : 'apt-get install g++ (Debian/Ubuntu)';
    throw new VecforgeError('ERR_NATIVE', `the C++ compiler '${compiler}' was not found: install one (${hint}) or set CXX`);
  }
  if (!toolAvailable('make') && verbose) {
    // The baselines need no make, but node-gyp (the addon build) does.
    console.warn('[native-bench] note: make not found; the baselines build without it, the vecforge_hnsw addon does not');
  }
}

/** Compiles one job, `-march=native` first when asked; throws with the compiler's last lines when every attempt fails. */
function compile(job: CompileJob, resolved: Readonly<Required<HnswBenchBuildOptions>>): HnswBenchBuild {
  const root = benchRoot();
  const source = path.join(root, job.source);
  const binDir = path.join(root, 'dist', 'native', 'bin');
  const binary = path.join(binDir, process.platform === 'win32' ? `${job.name}.exe` : job.name);
  mkdirSync(binDir, { recursive: true });
  const attempts: Array<{ march: boolean; flags: string[] }> = [];
  const base = ['-O3', '-std=c++17', '-pthread', '-DNDEBUG', ...resolved.extraFlags];
  if (resolved.marchNative) attempts.push({ march: true, flags: [...base, '-march=native'] });
  attempts.push({ march: false, flags: base });
  const failures: string[] = [];
  for (const attempt of attempts) {
    const args = [...attempt.flags, ...job.extraFlags, source, '-o', binary, ...job.libs];
    if (resolved.verbose) console.log(`[native-bench] ${resolved.compiler} ${args.join(' ')}`);
    const result = spawnSync(resolved.compiler, args, { encoding: 'utf8' });
    if (result.status === 0 && existsSync(binary)) {
      return { binary, flags: attempt.flags, marchNative: attempt.march };
    }
    const stderr = (result.stderr ?? '').trim().split('\n').slice(-5).join('\n');
    failures.push(`${attempt.flags.join(' ')}: ${result.error?.message ?? stderr}`);
    if (resolved.verbose && attempt.march) console.warn('[native-bench] -march=native failed, retrying without it');
  }
  throw new VecforgeError('ERR_NATIVE', `compiling ${source} failed:\n${failures.join('\n')}`);
}

/**
 * Compiles `bench/src/native/hnsw_bench.cpp` into `bench/dist/native/bin/hnsw_bench`.
 * @param options - see {@link HnswBenchBuildOptions}.
 * @returns the binary path and the flags used.
 * @throws {VecforgeError} `ERR_NATIVE` when the compiler is missing or every attempt fails.
 */
export function buildHnswBench(options: HnswBenchBuildOptions = {}): HnswBenchBuild {
  const resolved = { ...kDefaultHnswBenchBuildOptions, ...options };
  checkCompiler(resolved.compiler, resolved.verbose);
  const include = hnswlibIncludeDir();
  return compile({ source: path.join('src', 'native', 'hnsw_bench.cpp'), name: resolved.outputName, extraFlags: [`-I${include}`, `-I${path.join(repoRoot(), 'native')}`], libs: [] }, resolved);
}

/** What {@link buildMatmulBench} produced. */
export interface MatmulBenchBuild {
  /** The blocked, vectorised kernel: always built. */
  readonly blocked: HnswBenchBuild;
  /** The same program on OpenBLAS, when OpenBLAS is installed; else undefined. */
  readonly openblas: HnswBenchBuild | undefined;
  /** Why there is no OpenBLAS build, when there is none. */
  readonly openblasMissing: string | undefined;
}

/**
 * Compiles `bench/src/native/matmul.cpp` into `bench/dist/native/bin/matmul`
 * (the blocked kernel), and into `bench/dist/native/bin/matmul-openblas` when the
 * OpenBLAS headers and library are installed (`apt-get install
 * libopenblas-dev`).
 * @param options - the same options as {@link buildHnswBench}.
 * @returns the binaries and the flags used.
 * @throws {VecforgeError} `ERR_NATIVE` when the compiler is missing or the blocked kernel fails to build.
 */
export function buildMatmulBench(options: HnswBenchBuildOptions = {}): MatmulBenchBuild {
  const resolved = { ...kDefaultHnswBenchBuildOptions, ...options };
  checkCompiler(resolved.compiler, resolved.verbose);
  const source = path.join('src', 'native', 'matmul.cpp');
  // matmul.cpp includes the addon's own kernel, vecforge's native/sgemm.h.
  const sgemm = `-I${path.join(repoRoot(), 'native')}`;
  const blocked = compile({ source, name: 'matmul', extraFlags: [sgemm], libs: [] }, resolved);
  // Debian installs cblas.h under an arch directory that g++ searches; other layouts keep it in openblas/.
  const includes = ['/usr/include/openblas', '/usr/local/include/openblas', '/opt/homebrew/opt/openblas/include'].filter((d) => existsSync(d));
  try {
    const openblas = compile(
      { source, name: 'matmul-openblas', extraFlags: [sgemm, '-DHAVE_OPENBLAS', ...includes.map((d) => `-I${d}`)], libs: ['-lopenblas'] },
      { ...resolved, verbose: false },
    );
    return { blocked, openblas, openblasMissing: undefined };
  } catch (error: unknown) {
    const why = 'OpenBLAS is not installed (apt-get install libopenblas-dev), so only the blocked kernel is measured';
    if (resolved.verbose) console.warn(`[native-bench] ${why}`);
    return { blocked, openblas: undefined, openblasMissing: error instanceof Error ? `${why}: ${error.message.split('\n')[1] ?? ''}` : why };
  }
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  try {
    const built = buildHnswBench();
    console.log(`[native-bench] built ${built.binary} (${built.flags.join(' ')})`);
    const matmul = buildMatmulBench();
    for (const b of [matmul.blocked, matmul.openblas]) if (b !== undefined) console.log(`[native-bench] built ${b.binary} (${b.flags.join(' ')})`);
  } catch (error: unknown) {
    console.error(`[native-bench] ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
