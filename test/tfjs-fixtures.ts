/**
 * Test helpers for TF.js model directories: a functional layers model.json
 * written with tfjs-core's weight encoder (for the checks that need no
 * model runtime), and the files around it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { kTinyVocab } from './bert-fixtures.js';

/** Options of {@link writeTfjsLayersDir}. */
export interface TfjsDirOptions {
  /** vecforge.json's object; undefined writes none. */
  readonly vecforge?: Record<string, unknown>;
  /** Extra inputs of the model beyond ids and mask. */
  readonly extraInputs?: readonly string[];
  /** Weight shard paths in the manifest. @default ['group1-shard1of1.bin'] */
  readonly paths?: readonly string[];
  /** Bytes cut from the end of the shard. @default 0 */
  readonly truncate?: number;
}

/** vecforge.json for the fixture model. */
export const kTfjsVecforge = Object.freeze({ inputs: { ids: 'ids', mask: 'mask' }, output: 'hidden', dims: 6, pooling: 'mean', maxSeqLength: 16 });

function inputLayer(name: string): Record<string, unknown> {
  return { class_name: 'InputLayer', name, inbound_nodes: [], config: { batch_input_shape: [null, null], dtype: 'int32', sparse: false, name } };
}

/**
 * Writes a layers-format model.json (Keras functional topology: ids →
 * Embedding → Dense, mask → Embedding, added) with its weights, vocab.txt
 * and vecforge.json, as TF.js's `model.save` lays them out.
 * @param dir - the directory to create.
 * @param options - what to write differently.
 * @returns the directory.
 */
export async function writeTfjsLayersDir(dir: string, options: TfjsDirOptions = {}): Promise<string> {
  // PROD: no "install tfjs-node" banner in the test output.
  tf.env().set('PROD', true);
  await tf.setBackend('cpu');
  mkdirSync(dir, { recursive: true });
  const inputs = ['ids', 'mask', ...(options.extraInputs ?? [])];
  const layers = [
    ...inputs.map(inputLayer),
    { class_name: 'Embedding', name: 'emb', config: { name: 'emb', input_dim: kTinyVocab.length, output_dim: 8 }, inbound_nodes: [[['ids', 0, 0, {}]]] },
    { class_name: 'Dense', name: 'dense', config: { name: 'dense', units: 6, activation: 'tanh', use_bias: true }, inbound_nodes: [[['emb', 0, 0, {}]]] },
    { class_name: 'Embedding', name: 'mask_emb', config: { name: 'mask_emb', input_dim: 2, output_dim: 6 }, inbound_nodes: [[['mask', 0, 0, {}]]] },
    { class_name: 'Add', name: 'hidden', config: { name: 'hidden' }, inbound_nodes: [[['dense', 0, 0, {}], ['mask_emb', 0, 0, {}]]] },
  ];
  const modelTopology = {
    class_name: 'Model',
    config: { name: 'tiny', layers, input_layers: inputs.map((n) => [n, 0, 0]), output_layers: [['hidden', 0, 0]] },
    keras_version: 'tfjs-layers 4.22.0',
    backend: 'tensor_flow.js',
  };
  const weights: tf.NamedTensorMap = {
    'emb/embeddings': tf.randomNormal([kTinyVocab.length, 8], 0, 1, 'float32', 1),
    'dense/kernel': tf.randomNormal([8, 6], 0, 0.5, 'float32', 2),
    'dense/bias': tf.randomNormal([6], 0, 0.1, 'float32', 3),
    'mask_emb/embeddings': tf.randomNormal([2, 6], 0, 1, 'float32', 4),
  };
  const { data, specs } = await tf.io.encodeWeights(weights);
  const bytes = new Uint8Array(data as ArrayBuffer);
  const paths = options.paths ?? ['group1-shard1of1.bin'];
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ modelTopology, format: 'layers-model', generatedBy: 'TensorFlow.js tfjs-layers v4.22.0', convertedBy: null, weightsManifest: [{ paths, weights: specs }] }));
  writeFileSync(join(dir, 'group1-shard1of1.bin'), bytes.subarray(0, bytes.length - (options.truncate ?? 0)));
  writeFileSync(join(dir, 'vocab.txt'), `${kTinyVocab.join('\n')}\n`);
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true }));
  if (options.vecforge !== undefined) writeFileSync(join(dir, 'vecforge.json'), JSON.stringify(options.vecforge));
  return dir;
}
