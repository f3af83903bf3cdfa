import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { VecforgeError } from '../src/errors.js';
import { fitPca } from '../src/pca/fit.js';
import {
  deserializePcaModel,
  kPcaModelFormatVersion,
  loadPcaModel,
  savePcaModel,
  serializePcaModel,
  validatePcaModel,
  type PcaModel,
} from '../src/pca/model.js';
import { loadNativeProjectRows } from '../src/native/kernels.js';
import { PcaProjector } from '../src/pca/project.js';
import { loadTf, type Tf } from '../src/tensor/backend.js';
import { decayingSpectrumSample } from './fixtures/pca-data.js';
import { gloveRows } from './helpers.js';

const dims = 24;
const components = 6;
let tf: Tf;
let model: PcaModel;
let sample: Float32Array;
let directory: string;

beforeAll(async () => {
  tf = await loadTf('wasm');
  sample = decayingSpectrumSample({ rows: 200, dims, seed: 11 });
  model = await fitPca(sample, dims, { components }, tf);
});

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'vecforge-pca-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** (rows - mean) · componentsᵀ in float64. */
function referenceProjection(rows: Float32Array): Float64Array {
  const count = rows.length / dims;
  const out = new Float64Array(count * components);
  for (let r = 0; r < count; r++) {
    for (let c = 0; c < components; c++) {
      let sum = 0;
      for (let j = 0; j < dims; j++) sum += (rows[r * dims + j]! - model.mean[j]!) * model.components[c * dims + j]!;
      out[r * components + c] = sum;
    }
  }
  return out;
}

function expectPcaError(action: () => unknown, message: string | RegExp): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(VecforgeError);
  expect((caught as VecforgeError).code).toBe('ERR_PCA');
  expect((caught as VecforgeError).message).toMatch(message);
}

describe.each(['tfjs', 'native'] as const)('PcaProjector, %s kernel', (kernel) => {
  test('without normalisation it computes (x - mean) · componentsᵀ', () => {
    const projector = new PcaProjector(model, tf, kernel);
    const rows = sample.subarray(0, 10 * dims);
    const projected = projector.project(rows, undefined, { normalize: false });
    const expected = referenceProjection(rows);
    expect(projected.length).toBe(10 * components);
    for (let i = 0; i < expected.length; i++) expect(projected[i]).toBeCloseTo(expected[i]!, 5);
    projector.dispose();
  });

  test('the mean projects to zero; normalised, a zero row stays zero, never NaN', () => {
    const projector = new PcaProjector(model, tf, kernel);
    const raw = projector.project(model.mean, undefined, { normalize: false });
    expect(Array.from(raw)).toEqual(new Array<number>(components).fill(0));
    const normalized = projector.project(model.mean);
    expect(Array.from(normalized)).toEqual(new Array<number>(components).fill(0));
    projector.dispose();
  });

  test('by default every output row has unit length', () => {
    const projector = new PcaProjector(model, tf, kernel);
    const projected = projector.project(sample);
    for (let r = 0; r < sample.length / dims; r++) {
      let sum = 0;
      for (let c = 0; c < components; c++) sum += projected[r * components + c]! ** 2;
      expect(Math.sqrt(sum)).toBeCloseTo(1, 6);
    }
    projector.dispose();
  });

  test('keeps its resident tensors (two on TF.js, none native) and frees every per-call tensor', () => {
    const resident = kernel === 'tfjs' ? 2 : 0;
    const before = tf.memory().numTensors;
    const projector = new PcaProjector(model, tf, kernel);
    expect(projector.kernel).toBe(kernel);
    expect(tf.memory().numTensors).toBe(before + resident);
    projector.project(sample);
    projector.project(sample, undefined, { normalize: false });
    expect(tf.memory().numTensors).toBe(before + resident);
    projector.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  test('writes into out when given, and projects empty input', () => {
    const projector = new PcaProjector(model, tf, kernel);
    const out = new Float32Array(3 * components);
    const returned = projector.project(sample.subarray(0, 3 * dims), out);
    expect(returned).toBe(out);
    expect(out).toEqual(projector.project(sample.subarray(0, 3 * dims)));
    expect(projector.project(new Float32Array(0)).length).toBe(0);
    projector.dispose();
  });

  test('validates its arguments and refuses work after dispose', () => {
    const projector = new PcaProjector(model, tf, kernel);
    expect(() => projector.project(new Float32Array(dims + 1))).toThrow(
      new RangeError('rows.length must be a multiple of dims (24), got 25'),
    );
    expect(() => projector.project(new Float32Array(dims), new Float32Array(components + 1))).toThrow(
      new RangeError('out must hold 1 rows × 6 dims = 6 values, got 7'),
    );
    expect(() => projector.project(new Float32Array(dims), undefined, { normalize: 1 as unknown as boolean })).toThrow(
      new TypeError('options.normalize must be a boolean, got number 1'),
    );
    projector.dispose();
    projector.dispose();
    expect(() => projector.project(new Float32Array(dims))).toThrow(
      expect.objectContaining({ code: 'ERR_CLOSED', message: 'this PcaProjector was disposed' }),
    );
  });

  test('refuses a malformed model', () => {
    expect(() => new PcaProjector({ ...model, components: model.components.subarray(1) }, tf, kernel)).toThrow(
      new RangeError('model.components must hold 144 values, got 143'),
    );
    expect(() => new PcaProjector({ ...model, outputDims: dims }, tf, kernel)).toThrow(
      new RangeError('model.outputDims must be an integer in [1, 23], got 24'),
    );
  });
});

describe('PcaProjector kernels', () => {
  test('native and TF.js agree on real GloVe rows (100 → 32), more rows than one native block', async () => {
    const rows = gloveRows(2_500, 5_000);
    const glove = await fitPca(rows.subarray(0, 1_000 * 100), 100, { components: 32 }, tf);
    const native = new PcaProjector(glove, tf, 'native');
    const tfjs = new PcaProjector(glove, tf, 'tfjs');
    for (const normalize of [true, false]) {
      const a = native.project(rows, undefined, { normalize });
      const b = tfjs.project(rows, undefined, { normalize });
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      expect(worst).toBeLessThan(1e-5);
    }
    native.dispose();
    tfjs.dispose();
  });

  test("'auto' picks the native kernel on wasm when the addon loads; VECFORGE_NATIVE=0 makes it TF.js", () => {
    const auto = new PcaProjector(model, tf);
    expect(auto.kernel).toBe('native');
    auto.dispose();
    const saved = process.env['VECFORGE_NATIVE'];
    process.env['VECFORGE_NATIVE'] = '0';
    try {
      const off = new PcaProjector(model, tf);
      expect(off.kernel).toBe('tfjs');
      off.dispose();
      expect(() => new PcaProjector(model, tf, 'native')).toThrow(
        expect.objectContaining({ code: 'ERR_NATIVE', message: expect.stringMatching(/native projection kernel is not available/) }),
      );
    } finally {
      if (saved === undefined) delete process.env['VECFORGE_NATIVE'];
      else process.env['VECFORGE_NATIVE'] = saved;
    }
    expect(() => new PcaProjector(model, tf, 'blas' as never)).toThrow(new RangeError("kernel must be 'auto', 'native' or 'tfjs', got \"blas\""));
  });

  test('the addon kernel checks its operand shapes', () => {
    const project = loadNativeProjectRows();
    if (project === undefined) throw new Error('the native addon must be built for this test');
    const mean = new Float32Array(4);
    expect(() => project(new Float32Array(8), mean, new Float32Array(6), new Float32Array(2), true)).toThrow(
      new RangeError('weights.length (6) must be a positive multiple of inDims (4)'),
    );
    expect(() => project(new Float32Array(9), mean, new Float32Array(8), new Float32Array(4), true)).toThrow(
      new RangeError('rows.length (9) must be a multiple of dims (4)'),
    );
    expect(() => project(new Float32Array(8), mean, new Float32Array(8), new Float32Array(3), true)).toThrow(
      new RangeError('out.length (3) must be rows × outDims = 4'),
    );
  });

  test('writing the output over its own input is safe', () => {
    const projector = new PcaProjector(model, tf, 'native');
    const buffer = new Float32Array(dims * 2);
    buffer.set(sample.subarray(0, dims * 2));
    const expected = projector.project(buffer.slice());
    const out = projector.project(buffer, buffer.subarray(0, 2 * components));
    expect(Array.from(out)).toEqual(Array.from(expected));
    projector.dispose();
  });
});

describe('PCA model bytes', () => {
  test('serialize then deserialize round-trips exactly', () => {
    const bytes = serializePcaModel(model);
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x56, 0x46, 0x50, 0x43]);
    expect(bytes.length).toBe(32 + 4 * (dims + components * dims + components) + 32);
    const decoded = deserializePcaModel(bytes, { inputDims: dims, outputDims: components });
    expect(decoded).toEqual(model);
  });

  test('a flipped byte anywhere is refused', () => {
    const bytes = serializePcaModel(model);
    for (const offset of [0, 4, 8, 12, 20, 28, 40, 500, bytes.length - 40, bytes.length - 1]) {
      const corrupt = bytes.slice();
      corrupt[offset]! ^= 0x10;
      expectPcaError(() => deserializePcaModel(corrupt), /bad magic|version|checksum mismatch/);
    }
    const corrupt = bytes.slice();
    corrupt[100]! ^= 0x01;
    expectPcaError(() => deserializePcaModel(corrupt), 'PCA model checksum mismatch: the data is corrupt');
  });

  test('magic, version and truncation are refused with clear messages', () => {
    const bytes = serializePcaModel(model);
    expectPcaError(() => deserializePcaModel(new TextEncoder().encode('{"not":"a model"} padded to be long enough to pass')), 'not a vecforge PCA model: bad magic number (expected "VFPC")');
    const future = bytes.slice();
    new DataView(future.buffer).setUint16(4, kPcaModelFormatVersion + 1, true);
    expectPcaError(() => deserializePcaModel(future), 'unsupported PCA model format version 2 (this build reads version 1)');
    expectPcaError(() => deserializePcaModel(bytes.subarray(0, 40)), 'not a vecforge PCA model: 40 bytes is shorter than the 64-byte minimum');
    expectPcaError(() => deserializePcaModel(bytes.subarray(0, bytes.length - 4)), 'checksum mismatch');
  });

  test('dims other than expected are refused', () => {
    const bytes = serializePcaModel(model);
    expectPcaError(
      () => deserializePcaModel(bytes, { inputDims: 1536 }),
      'PCA model input dims mismatch: the model maps 24 → 6 dims, expected input dims 1536',
    );
    expectPcaError(
      () => deserializePcaModel(bytes, { inputDims: 24, outputDims: 8 }),
      'PCA model output dims mismatch: the model maps 24 → 6 dims, expected output dims 8',
    );
  });

  test('serializing a malformed model throws before writing anything', () => {
    expect(() => serializePcaModel({ ...model, explainedVarianceRatio: 1.5 })).toThrow(
      new RangeError('model.explainedVarianceRatio must be a number in [0, 1], got 1.5'),
    );
    const bad = model.mean.slice();
    bad[3] = Number.NaN;
    expect(() => validatePcaModel({ ...model, mean: bad })).toThrow(new RangeError('model.mean must hold finite values, got NaN at 3'));
    expect(() => deserializePcaModel([1, 2, 3] as unknown as Uint8Array)).toThrow(new TypeError('bytes must be a Uint8Array, got Array'));
  });
});

describe('PCA model files', () => {
  test('save then load gives identical projections, leaving no temporary file', async () => {
    const path = join(directory, 'pca.bin');
    await savePcaModel(path, model);
    expect(await readdir(directory)).toEqual(['pca.bin']);
    const loaded = await loadPcaModel(path, { inputDims: dims, outputDims: components });
    const before = new PcaProjector(model, tf);
    const after = new PcaProjector(loaded, tf);
    expect(after.project(sample)).toEqual(before.project(sample));
    expect(after.project(sample, undefined, { normalize: false })).toEqual(before.project(sample, undefined, { normalize: false }));
    before.dispose();
    after.dispose();
  });

  test('saving replaces an existing file atomically', async () => {
    const path = join(directory, 'pca.bin');
    await writeFile(path, 'old');
    await savePcaModel(path, model);
    expect(deserializePcaModel(await readFile(path))).toEqual(model);
    expect(await readdir(directory)).toEqual(['pca.bin']);
  });

  test('a corrupt file is refused with its path in the message', async () => {
    const path = join(directory, 'pca.bin');
    await savePcaModel(path, model);
    const bytes = await readFile(path);
    bytes[200]! ^= 0xff;
    await writeFile(path, bytes);
    await expect(loadPcaModel(path)).rejects.toMatchObject({
      code: 'ERR_PCA',
      message: `${path}: PCA model checksum mismatch: the data is corrupt`,
    });
  });

  test('a dims mismatch on load is refused', async () => {
    const path = join(directory, 'pca.bin');
    await savePcaModel(path, model);
    await expect(loadPcaModel(path, { outputDims: 128 })).rejects.toMatchObject({
      code: 'ERR_PCA',
      message: `${path}: PCA model output dims mismatch: the model maps 24 → 6 dims, expected output dims 128`,
    });
  });

  test('a missing file or directory is an ERR_IO error', async () => {
    await expect(loadPcaModel(join(directory, 'missing.bin'))).rejects.toMatchObject({ code: 'ERR_IO' });
    await expect(savePcaModel(join(directory, 'no', 'such', 'dir.bin'), model)).rejects.toMatchObject({ code: 'ERR_IO' });
    expect(await readdir(directory)).toEqual([]);
  });
});
