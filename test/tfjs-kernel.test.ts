/**
 * The TF.js model kernel's own work (tokenise, pad length-sorted
 * sub-batches, feed ids/mask/token types by name with each input's dtype,
 * check the output's shape, pool over real tokens, normalise), with the
 * model given as TF.js ops in the test. The run through tfjs-layers itself
 * is tfjs-model-run.test.ts.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { Tf } from '../src/tensor/backend.js';
import type { RunnableModel } from '../src/tensor/tfjs-models.js';
import type { TfjsModelConfig } from '../src/models/tfjs/config.js';
import { TfjsKernel, type TfjsShared } from '../src/models/tfjs/kernel.js';
import { WordPieceTokenizer, type WordPieceSpec } from '../src/models/bert/wordpiece.js';
import { kItemOk, kItemOkTruncated } from '../src/models/embedder.js';
import { kTinyVocab } from './bert-fixtures.js';

const kSpec: WordPieceSpec = { vocab: [...kTinyVocab], lowerCase: true, stripAccents: true, chineseChars: true, cleanText: true, prefix: '##', maxInputChars: 100, unk: '[UNK]', cls: '[CLS]', sep: '[SEP]', pad: '[PAD]' };
const kDims = 6;

let emb: tf.Tensor2D;
let w: tf.Tensor2D;
let maskEmb: tf.Tensor2D;
const seen: Array<{ names: string[]; dtypes: string[]; shape: number[] }> = [];

/** ids → embedding → dense(tanh) + mask embedding, as TF.js ops; records what it was fed. */
const model: RunnableModel = {
  run(inputs, output) {
    expect(output).toBe('hidden');
    const ids = inputs.input_ids as tf.Tensor2D;
    const mask = inputs.attention_mask as tf.Tensor2D;
    seen.push({ names: Object.keys(inputs).sort(), dtypes: Object.keys(inputs).sort().map((k) => inputs[k]?.dtype ?? ''), shape: ids.shape });
    const [b, s] = ids.shape;
    const x = tf.reshape(tf.gather(emb, tf.reshape(ids, [-1])), [b * s, 8]);
    const h = tf.tanh(tf.matMul(x, w));
    return tf.reshape(tf.add(h, tf.gather(maskEmb, tf.reshape(tf.cast(mask, 'int32'), [-1]))), [b, s, kDims]);
  },
  dispose() {},
};

function config(patch: Partial<TfjsModelConfig> = {}): TfjsModelConfig {
  return {
    format: 'graph',
    inputs: [
      { role: 'ids', name: 'input_ids', dtype: 'int32', fixedLength: 0 },
      { role: 'mask', name: 'attention_mask', dtype: 'float32', fixedLength: 0 },
      { role: 'tokenTypes', name: 'token_type_ids', dtype: 'int32', fixedLength: 0 },
    ],
    output: 'hidden',
    dims: kDims,
    pooling: 'mean',
    normalize: true,
    maxSeqLength: 32,
    ...patch,
  };
}

function kernel(patch: Partial<TfjsModelConfig> = {}): TfjsKernel {
  const shared: TfjsShared = { config: config(patch), tokenizer: kSpec, modelJson: {}, weightSpecs: [], weightData: new SharedArrayBuffer(0) };
  return new TfjsKernel(shared, tf as unknown as Tf, model);
}

/** Direct: the model on one text alone, unpadded, pooled in float64. */
function direct(text: string, pooling: 'mean' | 'max' | 'cls', max = 32): Float64Array {
  const ids = Array.from(new WordPieceTokenizer(kSpec).encode(text, max).ids);
  const hidden = tf.tidy(() => model.run({ input_ids: tf.tensor2d([ids], [1, ids.length], 'int32'), attention_mask: tf.ones([1, ids.length]) }, 'hidden').dataSync() as Float32Array);
  const out = new Float64Array(kDims).fill(pooling === 'max' ? -Infinity : 0);
  for (let t = 0; t < (pooling === 'cls' ? 1 : ids.length); t++) {
    for (let d = 0; d < kDims; d++) {
      const v = hidden[t * kDims + d] as number;
      out[d] = pooling === 'max' ? Math.max(out[d] as number, v) : (out[d] as number) + (pooling === 'mean' ? v / ids.length : v);
    }
  }
  const norm = Math.hypot(...out);
  return out.map((v) => v / norm);
}

const kTexts = ['the cat sat on the mat', 'Hello, World!', 'a', 'the lazy dog runs over the cat, the cat runs over the lazy dog. hello world!'];

beforeAll(async () => {
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  emb = tf.randomNormal([kTinyVocab.length, 8], 0, 1, 'float32', 1);
  w = tf.randomNormal([8, kDims], 0, 0.5, 'float32', 2);
  maskEmb = tf.randomNormal([2, kDims], 0, 1, 'float32', 3);
});

describe('TfjsKernel', () => {
  test.each(['mean', 'max', 'cls'] as const)('pooling %s over real tokens equals the model on each text alone; padding changes nothing', (pooling) => {
    const k = kernel({ pooling });
    const status = new Uint8Array(kTexts.length);
    const batch = k.embedBatch(kTexts, status);
    expect(Array.from(status)).toEqual(kTexts.map(() => kItemOk));
    kTexts.forEach((text, r) => {
      const want = direct(text, pooling);
      for (let d = 0; d < kDims; d++) expect(batch[r * kDims + d]).toBeCloseTo(want[d] as number, 5);
      const alone = k.embedBatch([text], new Uint8Array(1));
      for (let d = 0; d < kDims; d++) expect(alone[d]).toBeCloseTo(batch[r * kDims + d] as number, 6);
    });
  });

  test('feeds every named input with its dtype, padded to the sub-batch longest; a fixed input length pads to it', () => {
    seen.length = 0;
    kernel().embedBatch(['a', 'the cat sat'], new Uint8Array(2));
    expect(seen).toEqual([{ names: ['attention_mask', 'input_ids', 'token_type_ids'], dtypes: ['float32', 'int32', 'int32'], shape: [2, 5] }]);
    seen.length = 0;
    const fixed = config().inputs.map((i) => ({ ...i, fixedLength: 12 }));
    kernel({ inputs: fixed }).embedBatch(['a'], new Uint8Array(1));
    expect(seen[0]?.shape).toEqual([1, 12]);
  });

  test('a text over maxSeqLength is cut and flagged truncated', () => {
    const status = new Uint8Array(1);
    const v = kernel({ maxSeqLength: 4 }).embedBatch(['the cat sat on the mat'], status);
    expect(status[0]).toBe(kItemOkTruncated);
    const want = direct('the cat', 'mean', 4);
    for (let d = 0; d < kDims; d++) expect(v[d]).toBeCloseTo(want[d] as number, 5);
  });

  test('an output whose shape is not what vecforge.json says fails with both shapes', () => {
    expect(() => kernel({ dims: 5 }).embedBatch(['a'], new Uint8Array(1))).toThrow('TF.js model output "hidden" has shape [1, 3, 6], expected [1, 3, 5] (batch × sequence × dims with dims 5 from vecforge.json)');
    expect(() => kernel({ pooling: 'none' }).embedBatch(['a'], new Uint8Array(1))).toThrow('TF.js model output "hidden" has shape [1, 3, 6], expected [1, 6] (pooling none: batch × dims with dims 6 from vecforge.json)');
  });
});
