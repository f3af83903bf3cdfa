/**
 * vecforge.json of a TF.js model directory, checked against what model.json
 * says about its inputs and outputs:
 *
 * ```json
 * { "inputs": { "ids": "input_ids", "mask": "attention_mask" },
 *   "output": "last_hidden_state", "dims": 384,
 *   "pooling": "mean", "normalize": true, "maxSeqLength": 256 }
 * ```
 *
 * `inputs.tokenTypes` names a token-type input (fed zeros); `pooling` is
 * mean, cls or max over the real tokens of a [batch, seq, dims] output, or
 * none for a model that pools itself ([batch, dims]).
 */
import { VecforgeError } from '../../errors.js';
import type { TfjsModelFormat } from '../../tensor/tfjs-models.js';
import { readJsonObject } from '../bert/config.js';

/** Pooling of a TF.js model's output. */
export const kTfjsPoolings = Object.freeze(['mean', 'cls', 'max', 'none'] as const);

/** A supported pooling. */
export type TfjsPooling = (typeof kTfjsPoolings)[number];

/** Input roles vecforge feeds. */
export const kTfjsInputRoles = Object.freeze(['ids', 'mask', 'tokenTypes'] as const);

/** An input role. */
export type TfjsInputRole = (typeof kTfjsInputRoles)[number];

/** One model input: its name, element type and fixed sequence length, if any. */
export interface TfjsInput {
  readonly role: TfjsInputRole;
  readonly name: string;
  readonly dtype: 'int32' | 'float32';
  /** The model's fixed sequence length, or 0 when any length goes. */
  readonly fixedLength: number;
}

/** The checked settings. */
export interface TfjsModelConfig {
  readonly format: TfjsModelFormat;
  readonly inputs: readonly TfjsInput[];
  readonly output: string;
  readonly dims: number;
  readonly pooling: TfjsPooling;
  readonly normalize: boolean;
  /** Tokens per text including [CLS] and [SEP]. */
  readonly maxSeqLength: number;
}

/** What model.json says about a model's inputs and outputs. */
interface Signature {
  readonly inputs: ReadonlyArray<{ readonly names: readonly string[]; readonly dtype: 'int32' | 'float32'; readonly fixedLength: number }>;
  /** Output names, or undefined when any node of the graph may be fetched. */
  readonly outputs: readonly string[] | undefined;
  /** Output width from the signature, or 0 when unknown. */
  readonly outputDims: ReadonlyMap<string, number>;
}

function modelError(message: string): VecforgeError {
  return new VecforgeError('ERR_MODEL', message);
}

function tfDtype(raw: unknown): 'int32' | 'float32' {
  return raw === 'DT_FLOAT' || raw === 'float32' || raw === 'DT_HALF' ? 'float32' : 'int32';
}

interface TensorInfo {
  name?: string;
  dtype?: string;
  tensorShape?: { dim?: Array<{ size?: string | number }> };
}

function dimOf(info: TensorInfo, i: number): number {
  const size = Number(info.tensorShape?.dim?.[i]?.size ?? -1);
  return Number.isSafeInteger(size) && size > 0 ? size : 0;
}

function graphSignature(json: Record<string, unknown>): Signature {
  const sig = json.signature as { inputs?: Record<string, TensorInfo>; outputs?: Record<string, TensorInfo> } | undefined;
  const nodes = ((json.modelTopology as { node?: Array<{ name?: string; op?: string; attr?: { dtype?: { type?: string }; shape?: { shape?: { dim?: Array<{ size?: string }> } } } }> }).node ?? []).filter((n) => typeof n.name === 'string');
  if (sig?.inputs !== undefined && sig.outputs !== undefined) {
    const outputDims = new Map<string, number>();
    const outputs: string[] = [];
    for (const [key, info] of Object.entries(sig.outputs)) {
      const names = [key, ...(info.name !== undefined ? [info.name, info.name.replace(/:0$/, '')] : [])];
      const rank = info.tensorShape?.dim?.length ?? 0;
      for (const n of names) {
        outputs.push(n);
        if (rank > 0) outputDims.set(n, dimOf(info, rank - 1));
      }
    }
    return {
      inputs: Object.entries(sig.inputs).map(([key, info]) => ({ names: [key, ...(info.name !== undefined ? [info.name, info.name.replace(/:0$/, '')] : [])], dtype: tfDtype(info.dtype), fixedLength: dimOf(info, 1) })),
      outputs: [...new Set(outputs)],
      outputDims,
    };
  }
  const inputs = nodes
    .filter((n) => n.op === 'Placeholder')
    .map((n) => ({ names: [n.name as string], dtype: tfDtype(n.attr?.dtype?.type), fixedLength: Math.max(0, Number(n.attr?.shape?.shape?.dim?.[1]?.size ?? 0)) }));
  return { inputs, outputs: nodes.map((n) => n.name as string), outputDims: new Map() };
}

interface KerasLayer {
  class_name?: string;
  name?: string;
  config?: { name?: string; dtype?: string; batch_input_shape?: Array<number | null>; batch_shape?: Array<number | null> };
}

function layersSignature(path: string, json: Record<string, unknown>): Signature {
  const topology = json.modelTopology as { model_config?: unknown; class_name?: string; config?: unknown };
  const model = (topology.model_config ?? topology) as { class_name?: string; config?: { layers?: KerasLayer[]; input_layers?: unknown[]; output_layers?: unknown[] } | KerasLayer[] };
  const config = Array.isArray(model.config) ? { layers: model.config } : (model.config ?? {});
  const layers = config.layers ?? [];
  const layerName = (l: KerasLayer): string => l.config?.name ?? l.name ?? '';
  const inputOf = (l: KerasLayer | undefined, name: string): Signature['inputs'][number] => {
    const shape = l?.config?.batch_input_shape ?? l?.config?.batch_shape ?? [];
    const fixed = shape[1];
    return { names: [name], dtype: tfDtype(l?.config?.dtype ?? 'float32'), fixedLength: typeof fixed === 'number' && fixed > 0 ? fixed : 0 };
  };
  if (model.class_name === 'Sequential') {
    const first = layers[0];
    const last = layers[layers.length - 1];
    if (first === undefined || last === undefined) throw modelError(`${path}: the Sequential model has no layers`);
    // TF.js names a Sequential model's input after its first layer.
    return { inputs: [inputOf(first, first.class_name === 'InputLayer' ? layerName(first) : `${layerName(first)}_input`)], outputs: [layerName(last)], outputDims: new Map() };
  }
  const refs = (list: unknown[] | undefined): string[] => (list ?? []).map((r) => (Array.isArray(r) ? String(r[0]) : String(r)));
  const byName = new Map(layers.map((l) => [layerName(l), l]));
  return { inputs: refs(config.input_layers).map((name) => inputOf(byName.get(name), name)), outputs: refs(config.output_layers), outputDims: new Map() };
}

function positiveInt(path: string, raw: Record<string, unknown>, key: string): number | undefined {
  const v = raw[key];
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw modelError(`${path}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}

/**
 * Parses vecforge.json and checks it against model.json.
 * @param path - vecforge.json.
 * @param modelPath - model.json, for messages.
 * @param modelJson - model.json's object.
 * @param format - graph or layers.
 * @returns the settings.
 * @throws {VecforgeError} ERR_MODEL for an unknown input or output name, a model whose inputs vecforge.json does not all name, or a bad field.
 */
export function parseTfjsConfig(path: string, modelPath: string, modelJson: Record<string, unknown>, format: TfjsModelFormat): TfjsModelConfig {
  const raw = readJsonObject(path);
  const sig = format === 'graph' ? graphSignature(modelJson) : layersSignature(modelPath, modelJson);
  const inputsRaw = raw.inputs;
  if (inputsRaw === null || typeof inputsRaw !== 'object' || Array.isArray(inputsRaw)) throw modelError(`${path}: "inputs" must be an object naming the model's inputs: {"ids": "…", "mask": "…"}`);
  const named = inputsRaw as Record<string, unknown>;
  for (const key of Object.keys(named)) {
    if (!(kTfjsInputRoles as readonly string[]).includes(key)) throw modelError(`${path}: inputs.${key} is not an input role; roles: ${kTfjsInputRoles.join(', ')}`);
  }
  if (typeof named.ids !== 'string') throw modelError(`${path}: inputs.ids must name the model's token-id input`);
  const allInputNames = sig.inputs.map((i) => i.names[0] as string);
  const inputs: TfjsInput[] = [];
  for (const role of kTfjsInputRoles) {
    const name = named[role];
    if (name === undefined) continue;
    if (typeof name !== 'string') throw modelError(`${path}: inputs.${role} must be a string, got ${JSON.stringify(name)}`);
    const found = sig.inputs.find((i) => i.names.includes(name));
    if (found === undefined) throw modelError(`${path}: inputs.${role} "${name}" is not an input of ${modelPath}; its inputs: ${allInputNames.join(', ') || 'none'}`);
    inputs.push({ role, name, dtype: found.dtype, fixedLength: found.fixedLength });
  }
  if (inputs.length !== sig.inputs.length) {
    throw modelError(`${modelPath} has ${sig.inputs.length} input${sig.inputs.length === 1 ? '' : 's'} (${allInputNames.join(', ')}) but ${path} names ${inputs.length} (${inputs.map((i) => `${i.role}: ${i.name}`).join(', ')}); each input must be named as ids, mask or tokenTypes`);
  }
  const output = raw.output;
  if (typeof output !== 'string' || output === '') throw modelError(`${path}: "output" must name the model's output tensor`);
  if (sig.outputs !== undefined && !sig.outputs.includes(output)) {
    throw modelError(`${path}: output "${output}" is not an output of ${modelPath}; its outputs: ${sig.outputs.slice(0, 20).join(', ') || 'none'}`);
  }
  const dims = positiveInt(path, raw, 'dims') ?? sig.outputDims.get(output) ?? 0;
  if (dims === 0) throw modelError(`${path}: "dims" (the output's width) is required: ${modelPath} does not give it`);
  const sigDims = sig.outputDims.get(output) ?? 0;
  if (sigDims > 0 && sigDims !== dims) throw modelError(`${path}: "dims" is ${dims} but ${modelPath} says output "${output}" is ${sigDims} wide`);
  const pooling = raw.pooling ?? 'mean';
  if (typeof pooling !== 'string' || !(kTfjsPoolings as readonly string[]).includes(pooling)) throw modelError(`${path}: pooling ${JSON.stringify(pooling)} is not supported; supported: ${kTfjsPoolings.join(', ')}`);
  const normalize = raw.normalize ?? true;
  if (typeof normalize !== 'boolean') throw modelError(`${path}: "normalize" must be true or false, got ${JSON.stringify(normalize)}`);
  const fixed = Math.max(0, ...inputs.map((i) => i.fixedLength));
  const maxSeqLength = positiveInt(path, raw, 'maxSeqLength') ?? (fixed > 0 ? fixed : 512);
  if (fixed > 0 && maxSeqLength > fixed) throw modelError(`${path}: "maxSeqLength" ${maxSeqLength} is over the model's fixed input length ${fixed}`);
  if (maxSeqLength < 3) throw modelError(`${path}: "maxSeqLength" ${maxSeqLength} leaves no room for a token between [CLS] and [SEP]`);
  return { format, inputs, output, dims, pooling: pooling as TfjsPooling, normalize, maxSeqLength };
}
