/**
 * BERT weights: finds each tensor in model.safetensors (with or without the
 * `bert.` prefix), checks its shape, and reads all of them as float32 into
 * one SharedArrayBuffer that every worker views.
 */
import { VecforgeError } from '../../errors.js';
import { readSafetensorsHeader, readTensorF32, type SafetensorsEntry } from '../../io/safetensors.js';
import type { BertConfig } from './config.js';

/** Where one tensor lies in the shared weights, in float32 elements. */
export interface WeightSlot {
  readonly offset: number;
  readonly shape: readonly number[];
}

/** The shared weights: one buffer, tensors by name (without prefix). */
export interface BertWeights {
  readonly buffer: SharedArrayBuffer;
  readonly slots: Readonly<Record<string, WeightSlot>>;
  readonly parameters: number;
  /** The dtypes the file stores the weights in, e.g. `F32` or `F16`. */
  readonly dtypes: readonly string[];
}

/**
 * The tensors a BERT encoder needs and their shapes.
 * @param c - the config.
 * @returns name → shape, names without the model prefix.
 */
export function bertTensorShapes(c: BertConfig): Map<string, number[]> {
  const h = c.hiddenSize;
  const shapes = new Map<string, number[]>([
    ['embeddings.word_embeddings.weight', [c.vocabSize, h]],
    ['embeddings.position_embeddings.weight', [c.maxPositions, h]],
    ['embeddings.token_type_embeddings.weight', [c.typeVocabSize, h]],
    ['embeddings.LayerNorm.weight', [h]],
    ['embeddings.LayerNorm.bias', [h]],
  ]);
  for (let l = 0; l < c.numLayers; l++) {
    const p = `encoder.layer.${l}.`;
    for (const part of ['query', 'key', 'value']) {
      shapes.set(`${p}attention.self.${part}.weight`, [h, h]);
      shapes.set(`${p}attention.self.${part}.bias`, [h]);
    }
    shapes.set(`${p}attention.output.dense.weight`, [h, h]);
    shapes.set(`${p}attention.output.dense.bias`, [h]);
    shapes.set(`${p}attention.output.LayerNorm.weight`, [h]);
    shapes.set(`${p}attention.output.LayerNorm.bias`, [h]);
    shapes.set(`${p}intermediate.dense.weight`, [c.intermediateSize, h]);
    shapes.set(`${p}intermediate.dense.bias`, [c.intermediateSize]);
    shapes.set(`${p}output.dense.weight`, [h, c.intermediateSize]);
    shapes.set(`${p}output.dense.bias`, [h]);
    shapes.set(`${p}output.LayerNorm.weight`, [h]);
    shapes.set(`${p}output.LayerNorm.bias`, [h]);
  }
  return shapes;
}

/**
 * Reads the encoder's weights into shared memory.
 * @param path - model.safetensors.
 * @param config - the parsed config.json.
 * @returns the shared weights.
 * @throws {VecforgeError} ERR_MODEL naming a missing tensor, or one of the wrong shape with both shapes.
 */
export function loadBertWeights(path: string, config: BertConfig): BertWeights {
  const header = readSafetensorsHeader(path);
  const shapes = bertTensorShapes(config);
  const prefixes = [`${config.modelType}.`, ''];
  const prefix = prefixes.find((p) => header.tensors.has(`${p}embeddings.word_embeddings.weight`)) ?? '';
  const found: Array<[string, SafetensorsEntry, number]> = [];
  let total = 0;
  const dtypes = new Set<string>();
  for (const [name, shape] of shapes) {
    const entry = header.tensors.get(prefix + name);
    if (entry === undefined) {
      throw new VecforgeError('ERR_MODEL', `${path}: tensor "${prefix + name}" (shape [${shape.join(', ')}]) is missing; the file has ${header.tensors.size} tensors${header.tensors.size > 0 ? `, e.g. ${[...header.tensors.keys()].slice(0, 3).map((k) => `"${k}"`).join(', ')}` : ''}`);
    }
    if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
      throw new VecforgeError('ERR_MODEL', `${path}: tensor "${entry.name}" has shape [${entry.shape.join(', ')}], expected [${shape.join(', ')}] from config.json`);
    }
    const n = shape.reduce((a, b) => a * b, 1);
    found.push([name, entry, total]);
    total += n;
    dtypes.add(entry.dtype);
  }
  // Sizes were checked against the file, so this allocation is at most
  // twice the file (float16 widened to float32).
  const buffer = new SharedArrayBuffer(total * 4);
  const slots: Record<string, WeightSlot> = {};
  for (const [name, entry, offset] of found) {
    const n = entry.shape.reduce((a, b) => a * b, 1);
    readTensorF32(header, entry, new Float32Array(buffer, offset * 4, n));
    slots[name] = { offset, shape: entry.shape };
  }
  return { buffer, slots: Object.freeze(slots), parameters: total, dtypes: [...dtypes].sort() };
}
