import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';

import { kNativeAddonFunctions, loadNativeAddon, nativeAddon, nativeAddonPath } from '../src/native/addon.js';

const kState = loadNativeAddon();

describe.skipIf(!kState.ok)('the built binding', () => {
  test('exports every function src/native/addon.ts declares, and no function it does not', () => {
    if (!kState.ok) throw new Error(`unreachable: ${kState.reason}`);
    const binding = kState.addon as unknown as Record<string, unknown>;
    expect(kNativeAddonFunctions).toHaveLength(28);
    const missing = kNativeAddonFunctions.filter((name) => typeof binding[name] !== 'function');
    expect(missing).toEqual([]);
    const exported = Object.keys(binding).filter((name) => typeof binding[name] === 'function');
    expect(exported).toHaveLength(28);
    expect([...exported].sort()).toEqual([...kNativeAddonFunctions].sort());
    expect(typeof binding['sha256']).toBe('boolean');
    expect(binding['kNoLabel']).toBe(0xffff_ffff);
  });

  test('is loaded once: every call returns the same state and binding', () => {
    expect(loadNativeAddon()).toBe(kState);
    expect(nativeAddon()).toBe(kState.ok ? kState.addon : undefined);
    expect(kState.ok && kState.path).toBe(nativeAddonPath());
  });
});

describe('an unavailable binding', () => {
  let dir: string;
  let saved: string | undefined;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'vecforge-addon-'));
    saved = process.env['VECFORGE_HNSW_ADDON'];
    vi.resetModules();
  });

  afterEach(() => {
    if (saved === undefined) delete process.env['VECFORGE_HNSW_ADDON'];
    else process.env['VECFORGE_HNSW_ADDON'] = saved;
    vi.resetModules();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a missing file is reported with its reason, and nativeAddon() is undefined', async () => {
    process.env['VECFORGE_HNSW_ADDON'] = path.join(dir, 'missing.node');
    const fresh = await import('../src/native/addon.js');
    expect(fresh.nativeAddonPath()).toBeUndefined();
    const state = fresh.loadNativeAddon();
    expect(state.ok).toBe(false);
    if (state.ok) throw new Error('the missing binding loaded');
    expect(state.reason).toMatch(/vecforge_hnsw\.node not found \(run `node native\/build\.mjs`\)/);
    expect(state.error).toBeInstanceOf(Error);
    expect(fresh.nativeAddon()).toBeUndefined();
    expect(fresh.loadNativeAddon()).toBe(state);
  });

  test('a file that is not a binding is reported with the loader\'s reason', async () => {
    const bogus = path.join(dir, 'bogus.node');
    writeFileSync(bogus, 'not a shared object');
    process.env['VECFORGE_HNSW_ADDON'] = bogus;
    const fresh = await import('../src/native/addon.js');
    expect(fresh.nativeAddonPath()).toBe(bogus);
    const state = fresh.loadNativeAddon();
    expect(state.ok).toBe(false);
    if (state.ok) throw new Error('the bogus binding loaded');
    expect(state.reason.length).toBeGreaterThan(0);
    expect(fresh.nativeAddon()).toBeUndefined();
  });
});
