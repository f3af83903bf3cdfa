#!/usr/bin/env node
// Builds the vecforge_hnsw addon (binding.gyp at the repository root) with
// node-gyp. Run as the package "install" script and by hand:
//
//   node native/build.mjs            # -march=native, then portable fallback
//   VECFORGE_MARCH=x86-64-v3 node native/build.mjs   # a fixed target only
//   VECFORGE_NATIVE_BUILD=0 node native/build.mjs    # skip the build
//
// Order: one build with VECFORGE_MARCH=native (binding.gyp turns it into
// -march=native), then, if that fails (a compiler without -march=native, or
// a cross build), one without any -march. If both fail this prints a warning
// and exits 0, so `npm ci` still succeeds: src/native/addon.ts then
// reports the addon as unavailable and the index falls back to hnswlib-node.
//
// node-gyp is looked up as: $npm_config_node_gyp (set by npm in lifecycle
// scripts), npm's bundled copy next to process.execPath, then `node-gyp` on
// PATH. Node headers: node-gyp's own logic (npm_config_nodedir, its cache,
// download) unless a local install ships them next to the node binary
// (<prefix>/include/node/common.gypi), which is then passed as --nodedir so
// an offline machine never needs a download.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const kRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const kAddon = path.join(kRoot, 'build', 'Release', 'vecforge_hnsw.node');

/** @returns {{ command: string, prefixArgs: string[] } | undefined} */
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  const execDir = path.dirname(process.execPath);
  candidates.push(
    // Unix layout: <prefix>/bin/node, <prefix>/lib/node_modules/npm
    path.resolve(execDir, '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    // Windows layout: <prefix>\node.exe, <prefix>\node_modules\npm
    path.resolve(execDir, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.resolve(kRoot, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  );
  for (const candidate of candidates) {
    if (candidate.endsWith('.js') && existsSync(candidate)) {
      return { command: process.execPath, prefixArgs: [candidate] };
    }
    if (existsSync(candidate)) return { command: candidate, prefixArgs: [] };
  }
  const probe = spawnSync(process.platform === 'win32' ? 'node-gyp.cmd' : 'node-gyp', ['--version'], {
    stdio: 'ignore',
    shell: process.platform === 'win32',
  });
  if (probe.status === 0) {
    return { command: process.platform === 'win32' ? 'node-gyp.cmd' : 'node-gyp', prefixArgs: [] };
  }
  return undefined;
}

/** @returns {string[]} extra node-gyp arguments for locally installed headers */
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (existsSync(path.join(prefix, 'include', 'node', 'common.gypi'))) return [`--nodedir=${prefix}`];
  return [];
}

/**
 * @param {{ command: string, prefixArgs: string[] }} gyp
 * @param {string} march value for VECFORGE_MARCH ('' = no -march flag)
 * @returns {boolean} whether the build succeeded and produced the addon
 */
function build(gyp, march) {
  const label = march === '' ? 'portable (no -march)' : `-march=${march}`;
  console.log(`[vecforge] building native HNSW addon (${label})`);
  const result = spawnSync(gyp.command, [...gyp.prefixArgs, 'rebuild', '--release', ...nodedirArgs()], {
    cwd: kRoot,
    stdio: 'inherit',
    env: { ...process.env, VECFORGE_MARCH: march },
    shell: process.platform === 'win32' && gyp.prefixArgs.length === 0,
  });
  if (result.error) console.warn(`[vecforge] could not run node-gyp: ${result.error.message}`);
  return result.status === 0 && existsSync(kAddon);
}

function main() {
  if (process.env.VECFORGE_NATIVE_BUILD === '0') {
    console.log('[vecforge] VECFORGE_NATIVE_BUILD=0: skipping the native HNSW addon build');
    return;
  }
  const gyp = findNodeGyp();
  if (gyp === undefined) {
    console.warn(
      '[vecforge] WARNING: node-gyp not found (looked at $npm_config_node_gyp, npm\'s bundled node-gyp, PATH); ' +
        'the native HNSW addon was not built, vecforge will use hnswlib-node (single-threaded inserts).',
    );
    return;
  }
  const attempts = process.env.VECFORGE_MARCH !== undefined ? [process.env.VECFORGE_MARCH] : ['native', ''];
  for (const march of attempts) {
    if (build(gyp, march)) {
      console.log(`[vecforge] native HNSW addon built: ${path.relative(kRoot, kAddon)}`);
      return;
    }
  }
  console.warn(
    '[vecforge] WARNING: the native HNSW addon could not be built (a C++17 compiler, make and python3 are ' +
      'needed by node-gyp, plus Node headers). vecforge will fall back to hnswlib-node: same files, ' +
      'single-threaded inserts. Fix the toolchain and run `node native/build.mjs` to retry.',
  );
}

main();
