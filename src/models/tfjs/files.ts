/**
 * Reads a TF.js model directory from disk: model.json (graph or layers
 * format, as tensorflowjs_converter or TF.js's `model.save` write it), its
 * weight shards, the tokenizer files and vecforge.json. Nothing is fetched:
 * every shard path must name a file inside the directory, and the shards'
 * sizes must match the weight entries before any byte is read.
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';
import { VecforgeError } from '../../errors.js';
import type { TfjsModelFormat } from '../../tensor/tfjs-models.js';
import { readJsonObject } from '../bert/config.js';

/** The files of a TF.js model directory. */
export interface TfjsFiles {
  readonly dir: string;
  readonly modelJson: string;
  readonly vecforgeJson: string;
  readonly tokenizer: { readonly kind: 'vocab'; readonly vocab: string; readonly config: string | undefined } | { readonly kind: 'tokenizer-json'; readonly file: string };
}

/** One weight entry of the manifest (tfjs-core's WeightsManifestEntry). */
export interface TfjsWeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly quantization?: { readonly dtype: string; readonly scale?: number; readonly min?: number };
}

/** model.json with its weights read into shared memory. */
export interface TfjsModelData {
  readonly modelJson: Record<string, unknown>;
  readonly format: TfjsModelFormat;
  readonly weightSpecs: readonly TfjsWeightSpec[];
  /** The shards' bytes, one after another, in manifest order. */
  readonly weightData: SharedArrayBuffer;
  readonly shardPaths: readonly string[];
  readonly parameters: number;
}

function modelError(message: string): VecforgeError {
  return new VecforgeError('ERR_MODEL', message);
}

/**
 * Whether a directory holds a TF.js model (a model.json).
 * @param dir - the directory.
 * @returns true when it has model.json.
 */
export function isTfjsModelDir(dir: string): boolean {
  return existsSync(join(dir, 'model.json'));
}

/**
 * Finds the files of a TF.js model directory.
 * @param dir - the directory.
 * @returns the files.
 * @throws {VecforgeError} ERR_MODEL listing what is missing and what was found.
 */
export function findTfjsFiles(dir: string): TfjsFiles {
  const has = (name: string): boolean => existsSync(join(dir, name));
  const missing: string[] = [];
  if (!has('vecforge.json')) missing.push('vecforge.json (it names the model\'s input and output tensors and the pooling: {"inputs": {"ids": "…", "mask": "…"}, "output": "…", "dims": N, "pooling": "mean"})');
  if (!has('vocab.txt') && !has('tokenizer.json')) missing.push('vocab.txt or tokenizer.json');
  if (missing.length > 0) {
    const names = readdirSync(dir).sort();
    throw modelError(`TF.js model directory ${dir} is missing ${missing.join(', ')}; found: ${names.join(', ')}`);
  }
  const tokenizer: TfjsFiles['tokenizer'] = has('vocab.txt')
    ? { kind: 'vocab', vocab: join(dir, 'vocab.txt'), config: has('tokenizer_config.json') ? join(dir, 'tokenizer_config.json') : undefined }
    : { kind: 'tokenizer-json', file: join(dir, 'tokenizer.json') };
  return { dir, modelJson: join(dir, 'model.json'), vecforgeJson: join(dir, 'vecforge.json'), tokenizer };
}

const kDtypeBytes: Readonly<Record<string, number>> = Object.freeze({ float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 });

/**
 * The format of a model.json: its `format` field, or its topology's shape.
 * @param path - model.json, for messages.
 * @param json - its object.
 * @returns graph or layers.
 * @throws {VecforgeError} ERR_MODEL when it is neither.
 */
export function modelFormat(path: string, json: Record<string, unknown>): TfjsModelFormat {
  if (json.format === 'graph-model') return 'graph';
  if (json.format === 'layers-model') return 'layers';
  const topology = json.modelTopology as Record<string, unknown> | null | undefined;
  if (topology !== null && typeof topology === 'object') {
    if (Array.isArray(topology.node)) return 'graph';
    if (typeof topology.class_name === 'string' || topology.model_config !== undefined) return 'layers';
  }
  throw modelError(`${path}: not a TF.js model: "format" is ${JSON.stringify(json.format)} and "modelTopology" is neither a graph (node list) nor a Keras model config; supported: graph-model, layers-model`);
}

function byteSize(path: string, spec: TfjsWeightSpec): number {
  if (typeof spec.name !== 'string' || !Array.isArray(spec.shape) || spec.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw modelError(`${path}: weight entry ${JSON.stringify(spec).slice(0, 200)} needs a "name" and a "shape" of non-negative integers`);
  }
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const bytes = kDtypeBytes[dtype];
  if (bytes === undefined) throw modelError(`${path}: weight "${spec.name}" has dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(kDtypeBytes).join(', ')}`);
  const n = spec.shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(n * bytes)) throw modelError(`${path}: weight "${spec.name}" of shape [${spec.shape.join(', ')}] is too large`);
  return n * bytes;
}

/**
 * Reads model.json and its weight shards into shared memory.
 * @param files - the directory's files.
 * @returns the model data.
 * @throws {VecforgeError} ERR_MODEL for a bad manifest, a shard outside the directory, missing, or not the size its weights need.
 */
export function readTfjsModel(files: TfjsFiles): TfjsModelData {
  const path = files.modelJson;
  const json = readJsonObject(path);
  const format = modelFormat(path, json);
  const manifest = json.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw modelError(`${path}: "weightsManifest" must be an array of {paths, weights}`);
  const specs: TfjsWeightSpec[] = [];
  const shards: string[] = [];
  let expected = 0;
  let parameters = 0;
  for (const group of manifest as Array<{ paths?: unknown; weights?: unknown } | null>) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group?.weights)) throw modelError(`${path}: each "weightsManifest" group needs "paths" and "weights" arrays`);
    for (const p of group.paths as unknown[]) {
      if (typeof p !== 'string' || p === '' || isAbsolute(p) || /^[a-z][a-z0-9+.-]*:/i.test(p)) throw modelError(`${path}: weight path ${JSON.stringify(p)} must be a file name relative to the model directory`);
      const full = join(files.dir, normalize(p));
      const rel = relative(files.dir, full);
      if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) throw modelError(`${path}: weight path ${JSON.stringify(p)} points outside the model directory`);
      shards.push(full);
    }
    for (const w of group.weights as TfjsWeightSpec[]) {
      expected += byteSize(path, w);
      parameters += w.shape.reduce((a, b) => a * b, 1);
      specs.push(w);
    }
  }
  let actual = 0;
  const sizes = shards.map((s) => {
    if (!existsSync(s) || !statSync(s).isFile()) throw modelError(`${path}: weight file ${relative(files.dir, s)} is missing`);
    const size = statSync(s).size;
    actual += size;
    return size;
  });
  // Checked before anything is allocated: a manifest that lies costs no memory.
  if (actual !== expected) throw modelError(`${path}: the weight files hold ${actual} bytes, but the weights listed need ${expected}`);
  const data = new SharedArrayBuffer(expected);
  const view = new Uint8Array(data);
  let at = 0;
  shards.forEach((s, i) => {
    const fd = openSync(s, 'r');
    try {
      const size = sizes[i] as number;
      if (fstatSync(fd).size !== size) throw modelError(`${path}: weight file ${relative(files.dir, s)} changed while read`);
      let off = 0;
      while (off < size) {
        const n = readSync(fd, view, at + off, size - off, off);
        if (n === 0) throw modelError(`${path}: weight file ${relative(files.dir, s)} ended early`);
        off += n;
      }
      at += size;
    } finally {
      closeSync(fd);
    }
  });
  return { modelJson: json, format, weightSpecs: specs, weightData: data, shardPaths: shards, parameters };
}
