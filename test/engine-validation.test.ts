import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { resolveEngineOptions, resolveEngineSourced } from '../src/config/resolve.js';
import { kTestCacheDir, tempDir } from './helpers.js';

describe('option validation', () => {
  test.each([
    [{ workers: 0 }, RangeError, 'options.workers must be an integer in [1, 64], got 0'],
    [{ workers: 65 }, RangeError, 'options.workers must be an integer in [1, 64], got 65'],
    [{ workers: 1.5 }, RangeError, 'options.workers must be an integer in [1, 64], got 1.5'],
    [{ workers: '2' }, TypeError, 'options.workers must be an integer in [1, 64], got "2"'],
    [{ backend: 'metal' }, RangeError, 'options.backend must be one of "auto", "tensorflow-gpu", "tensorflow", "wasm", "cpu", got "metal"'],
    [{ maxTextBytes: 0 }, RangeError, 'options.maxTextBytes must be an integer in [1, 67108864], got 0'],
    [{ batchTokens: 8 }, RangeError, 'options.batchTokens must be an integer in [16, 1000000], got 8'],
    [{ maxRetries: -1 }, RangeError, 'options.maxRetries must be an integer in [0, 10], got -1'],
    [{ model: '' }, RangeError, 'options.model must be a non-empty string, got ""'],
    [{ cacheDir: 5 }, TypeError, 'options.cacheDir must be a non-empty string, got 5'],
    [{ wrokers: 2 }, TypeError, 'options.wrokers is not a known option; known options: workers, backend, model, cacheDir, maxTextBytes, batchTokens, sortWindow, maxRetries, math'],
  ])('%j is refused', async (options, type, message) => {
    await expect(Engine.create(options as never)).rejects.toThrow(new type(message));
    await expect(Engine.create(options as never)).rejects.toBeInstanceOf(type);
  });

  test('options must be an object', async () => {
    await expect(Engine.create(42 as never)).rejects.toThrow(new TypeError('options must be an object, got 42'));
  });

  test('an unknown model names the valid ones', async () => {
    await expect(Engine.create({ model: 'bert', cacheDir: kTestCacheDir })).rejects.toThrow(new RangeError('options.model must be one of "glove-100d", got "bert"'));
  });

  test('an uninstalled backend is refused with the package it needs', async () => {
    await expect(Engine.create({ backend: 'tensorflow-gpu', cacheDir: kTestCacheDir })).rejects.toMatchObject({
      code: 'ERR_BACKEND',
      message: 'TF.js backend "tensorflow-gpu" needs the package @tensorflow/tfjs-node-gpu, which is not installed',
    });
  });

  test('env values are validated and named by their variable', () => {
    expect(() => resolveEngineOptions({ env: { VECFORGE_WORKERS: 'many' } })).toThrow(new TypeError('environment variable VECFORGE_WORKERS must be an integer in [1, 64], got "many"'));
    expect(() => resolveEngineOptions({ env: { VECFORGE_ENGINE__NOPE: '1' } })).toThrow(
      new TypeError('environment variable VECFORGE_ENGINE__NOPE names no option of section "engine"; known: workers, backend, model, cacheDir, maxTextBytes, batchTokens, sortWindow, maxRetries, math'),
    );
  });

  test('config file values are validated', async () => {
    const dir = tempDir();
    const file = join(dir, 'vecforge.config.json');
    writeFileSync(file, JSON.stringify({ engine: { workers: 100 } }));
    await expect(Engine.create({}, { configFile: file })).rejects.toThrow(new RangeError('config.engine.workers must be an integer in [1, 64], got 100'));
    writeFileSync(file, '{ not json');
    await expect(Engine.create({}, { configFile: file })).rejects.toMatchObject({ code: 'ERR_CONFIG', message: `config file ${file} is not valid JSON` });
  });

  test('a bad test-fault spec is refused', async () => {
    await expect(Engine.create({ cacheDir: kTestCacheDir }, { testFault: 'boom' })).rejects.toThrow(
      new RangeError('context.testFault must look like "exit|throw:<times>:<marker>", got "boom"'),
    );
    await expect(Engine.create({ cacheDir: kTestCacheDir }, { testFault: 5 as never })).rejects.toThrow(new TypeError('context.testFault must be a string, got number'));
  });

  test('VECFORGE_TEST_FAULT in the environment has no effect, garbage or valid', async () => {
    const saved = process.env.VECFORGE_TEST_FAULT;
    try {
      for (const value of ['boom', 'throw:1000:sentence', 'exit:1000:sentence']) {
        process.env.VECFORGE_TEST_FAULT = value;
        for (const context of [{}, { env: { ...process.env } }]) {
          const e = await Engine.create({ cacheDir: kTestCacheDir, workers: 1, backend: 'wasm' }, context);
          try {
            const r = await e.embed(['a sentence about the weather']);
            expect(r.items).toEqual([{ state: 'ok' }]);
            expect(e.metrics().retries).toBe(0);
          } finally {
            await e.close();
          }
        }
      }
    } finally {
      if (saved === undefined) delete process.env.VECFORGE_TEST_FAULT;
      else process.env.VECFORGE_TEST_FAULT = saved;
    }
  });
});

describe('config precedence', () => {
  test('options > env > file > defaults, with sources', async () => {
    const resolved = resolveEngineSourced({
      options: { workers: 1 },
      env: { VECFORGE_WORKERS: '2', VECFORGE_ENGINE__BATCH_TOKENS: '512', VECFORGE_BACKEND: 'cpu' },
      file: { engine: { workers: 3, batchTokens: 1024, sortWindow: 77, backend: 'wasm' } },
    });
    expect(resolved.workers).toEqual({ value: 1, source: 'option' });
    expect(resolved.batchTokens).toEqual({ value: 512, source: 'env' });
    expect(resolved.backend).toEqual({ value: 'cpu', source: 'env' });
    expect(resolved.sortWindow).toEqual({ value: 77, source: 'file' });
    expect(resolved.maxRetries).toEqual({ value: 2, source: 'default' });
  });

  test('VECFORGE_CACHE_DIR sets the cache directory', () => {
    expect(resolveEngineOptions({ env: { VECFORGE_CACHE_DIR: '/tmp/x' } }).cacheDir).toBe('/tmp/x');
  });
});

describe('per-item validation', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.create({ cacheDir: kTestCacheDir, workers: 1, backend: 'wasm', maxTextBytes: 64 });
  });
  afterAll(async () => {
    await engine.close();
  });

  test('each bad item fails alone with a clear reason; no NaN anywhere', async () => {
    const r = await engine.embed(['a good sentence', 42, '', '   ', 'x'.repeat(65), 'bad \ud800 surrogate', 'qqzzxx vvbbnn', null, 'another good one']);
    expect(r.items).toEqual([
      { state: 'ok' },
      { state: 'failed', code: 'NOT_A_STRING', reason: 'text must be a string, got number' },
      { state: 'failed', code: 'EMPTY', reason: 'text is empty' },
      { state: 'failed', code: 'EMPTY', reason: 'text is empty' },
      { state: 'failed', code: 'TOO_LARGE', reason: 'text is 65 bytes, over the limit of 64 (options.maxTextBytes)' },
      { state: 'failed', code: 'MALFORMED_UTF16', reason: 'text contains a lone UTF-16 surrogate' },
      { state: 'failed', code: 'NO_KNOWN_WORDS', reason: 'no word of the text is in the model vocabulary' },
      { state: 'failed', code: 'NOT_A_STRING', reason: 'text must be a string, got null' },
      { state: 'ok' },
    ]);
    expect(r.vectors.every((x) => Number.isFinite(x))).toBe(true);
    expect(r.vectors.length).toBe(9 * r.dims);
  });

  test('texts must be an array', async () => {
    await expect(engine.embed('text' as never)).rejects.toThrow(new TypeError('texts must be an array of strings, got string'));
  });

  test('embedStream checks its options and source', async () => {
    const drain = async (it: AsyncIterable<unknown>): Promise<void> => {
      for await (const _ of it) void _;
    };
    await expect(drain(engine.embedStream(['a'], { windowSize: 0 }))).rejects.toThrow(new RangeError('options.windowSize must be an integer in [1, 1000000], got 0'));
    await expect(drain(engine.embedStream(['a'], { prefetch: 0 }))).rejects.toThrow(new RangeError('options.prefetch must be an integer in [1, 64], got 0'));
    await expect(drain(engine.embedStream(5 as never))).rejects.toThrow(new TypeError('source must be an iterable or async iterable of texts'));
  });

  test('a closed engine refuses work', async () => {
    const e = await Engine.create({ cacheDir: kTestCacheDir, workers: 1, backend: 'wasm' });
    await e.close();
    await expect(e.embed(['x'])).rejects.toMatchObject({ code: 'ERR_CLOSED', message: 'the engine is closed' });
  });
});

describe('backend and pool size', () => {
  test('on CUDA exactly one worker owns the GPU; other backends keep the configured pool', async () => {
    const { effectiveWorkers } = await import('../src/engine.js');
    expect(effectiveWorkers('tensorflow-gpu', 8)).toBe(1);
    expect(effectiveWorkers('tensorflow', 8)).toBe(8);
    expect(effectiveWorkers('wasm', 2)).toBe(2);
  });

  test('auto resolves to wasm when no native TF.js package is installed', async () => {
    const { resolveBackend, isBackendInstalled } = await import('../src/tensor/backend.js');
    expect(isBackendInstalled('tensorflow-gpu')).toBe(false);
    expect(isBackendInstalled('tensorflow')).toBe(false);
    expect(resolveBackend('auto')).toBe('wasm');
    expect(resolveBackend('cpu')).toBe('cpu');
  });
});
