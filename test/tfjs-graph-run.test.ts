/**
 * A TF.js graph model directory (the format tensorflowjs_converter writes:
 * a GraphDef as JSON plus a weights manifest), written by the test node by
 * node, embedded through the engine on 1 and 2 workers and compared with a
 * plain computation of the same graph. Needs @tensorflow/tfjs-converter (an
 * optional peer): skipped, and said so, where it is not installed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { readVocabTokenizer, WordPieceTokenizer } from '../src/models/bert/wordpiece.js';
import { isTfjsModelRuntimeInstalled } from '../src/tensor/tfjs-models.js';
import { cosine, kTinyVocab } from './bert-fixtures.js';
import { kTestCacheDir, tempDir } from './helpers.js';

const kHasConverter = isTfjsModelRuntimeInstalled('graph');
const kDims = 5;
const kTexts = ['the cat sat on the mat', 'Hello, World!', 'unaffable', 'the lazy dog runs over the cat. hello world!', 'a'];

const dim = (n: number): { size: string } => ({ size: String(n) });

/**
 * hidden = tanh(gather(emb, input_ids)) · cast(attention_mask)[..., None],
 * as GraphDef nodes; weights: emb [vocab, dims] and two int32 scalars.
 */
function writeGraphModel(dir: string): Float32Array {
  const vocab = kTinyVocab.length;
  const emb = Float32Array.from({ length: vocab * kDims }, (_, i) => Math.sin(i * 0.731) * 0.9);
  const placeholder = (name: string) => ({ name, op: 'Placeholder', attr: { dtype: { type: 'DT_INT32' }, shape: { shape: { dim: [dim(-1), dim(-1)] } } } });
  const constant = (name: string, type: string, dims: number[]) => ({ name, op: 'Const', attr: { value: { tensor: { dtype: type, tensorShape: dims.length === 0 ? {} : { dim: dims.map(dim) } } }, dtype: { type } } });
  const nodes = [
    placeholder('input_ids'),
    placeholder('attention_mask'),
    constant('emb', 'DT_FLOAT', [vocab, kDims]),
    constant('gather_axis', 'DT_INT32', []),
    constant('expand_axis', 'DT_INT32', []),
    { name: 'gather', op: 'GatherV2', input: ['emb', 'input_ids', 'gather_axis'], attr: { Tparams: { type: 'DT_FLOAT' }, Tindices: { type: 'DT_INT32' }, Taxis: { type: 'DT_INT32' }, batch_dims: { i: '0' } } },
    { name: 'act', op: 'Tanh', input: ['gather'], attr: { T: { type: 'DT_FLOAT' } } },
    { name: 'mask_f', op: 'Cast', input: ['attention_mask'], attr: { SrcT: { type: 'DT_INT32' }, DstT: { type: 'DT_FLOAT' } } },
    { name: 'mask_e', op: 'ExpandDims', input: ['mask_f', 'expand_axis'], attr: { T: { type: 'DT_FLOAT' }, Tdim: { type: 'DT_INT32' } } },
    { name: 'hidden', op: 'Mul', input: ['act', 'mask_e'], attr: { T: { type: 'DT_FLOAT' } } },
  ];
  const weights = new Uint8Array(emb.byteLength + 8);
  weights.set(new Uint8Array(emb.buffer), 0);
  new DataView(weights.buffer).setInt32(emb.byteLength, 0, true);
  new DataView(weights.buffer).setInt32(emb.byteLength + 4, -1, true);
  writeFileSync(join(dir, 'group1-shard1of1.bin'), weights);
  writeFileSync(
    join(dir, 'model.json'),
    JSON.stringify({
      format: 'graph-model',
      generatedBy: '2.15.0',
      convertedBy: 'TensorFlow.js Converter v4.22.0',
      modelTopology: { node: nodes, library: {}, versions: { producer: 1482 } },
      weightsManifest: [
        {
          paths: ['group1-shard1of1.bin'],
          weights: [
            { name: 'emb', shape: [vocab, kDims], dtype: 'float32' },
            { name: 'gather_axis', shape: [], dtype: 'int32' },
            { name: 'expand_axis', shape: [], dtype: 'int32' },
          ],
        },
      ],
    }),
  );
  writeFileSync(join(dir, 'vocab.txt'), `${kTinyVocab.join('\n')}\n`);
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true }));
  return emb;
}

/** The graph by hand, pooled over the text's tokens. */
function reference(emb: Float32Array, ids: readonly number[], pooling: 'mean' | 'max' | 'cls'): Float64Array {
  const out = new Float64Array(kDims).fill(pooling === 'max' ? Number.NEGATIVE_INFINITY : 0);
  const rows = pooling === 'cls' ? ids.slice(0, 1) : ids;
  for (const id of rows) {
    for (let d = 0; d < kDims; d++) {
      const v = Math.tanh(emb[id * kDims + d] as number);
      out[d] = pooling === 'max' ? Math.max(out[d] as number, v) : (out[d] as number) + (pooling === 'mean' ? v / rows.length : v);
    }
  }
  return out;
}

describe.skipIf(!kHasConverter)('TF.js graph model directory, written node by node (needs @tensorflow/tfjs-converter)', () => {
  const engines: Engine[] = [];
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
  });

  test.each(['mean', 'max', 'cls'] as const)('pooling %s: engine vectors on 1 and 2 workers equal the graph computed by hand', async (pooling) => {
    const dir = tempDir('vecforge-tfjs-graph-');
    const emb = writeGraphModel(dir);
    writeFileSync(join(dir, 'vecforge.json'), JSON.stringify({ inputs: { ids: 'input_ids', mask: 'attention_mask' }, output: 'hidden', dims: kDims, pooling, maxSeqLength: 32 }));
    const tok = new WordPieceTokenizer(readVocabTokenizer(join(dir, 'vocab.txt'), join(dir, 'tokenizer_config.json')));
    const results = [];
    for (const workers of [1, 2]) {
      const engine = await Engine.create({ model: dir, cacheDir: kTestCacheDir, workers, backend: 'wasm' });
      engines.push(engine);
      expect(engine.info().modelFiles).toMatchObject({ dims: kDims, pooling, maxSeqLength: 32, dtype: 'float32, int32' });
      expect(String((engine.info().modelFiles as { architecture?: string }).architecture)).toContain('graph');
      results.push(await engine.embed(kTexts));
    }
    const [one, two] = results;
    expect(Array.from(two?.vectors ?? [])).toEqual(Array.from(one?.vectors ?? []));
    kTexts.forEach((text, r) => {
      expect(one?.items[r]?.state).toBe('ok');
      const ids = Array.from(tok.encode(text, 32).ids);
      expect(cosine(one?.vectors.subarray(r * kDims, (r + 1) * kDims) ?? [], reference(emb, ids, pooling))).toBeGreaterThanOrEqual(0.99999);
    });
  });
});
