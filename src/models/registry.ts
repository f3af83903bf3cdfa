/**
 * The frozen model registry (main side) and kernel registry (worker side).
 */
import { isAbsolute } from 'node:path';
import { VecforgeError } from '../errors.js';
import type { KernelFactory, ModelDefinition } from './embedder.js';
import { kGloveDefinition } from './glove/definition.js';
import { createGloveKernel } from './glove/kernel.js';
import { bertDirectoryDefinition } from './bert/definition.js';
import { createBertKernel } from './bert/kernel.js';
import { tfjsDirectoryDefinition } from './tfjs/definition.js';
import { isTfjsModelDir } from './tfjs/files.js';
import { createTfjsKernel } from './tfjs/kernel.js';
import { createRemoteKernel, kRemoteKernel } from './providers/provider-model.js';

/** Models by name. */
export const kModels: Readonly<Record<string, ModelDefinition>> = Object.freeze({
  [kGloveDefinition.name]: kGloveDefinition,
});

/** Worker kernels by name. */
export const kKernels: Readonly<Record<string, KernelFactory>> = Object.freeze({
  glove: createGloveKernel,
  bert: createBertKernel,
  tfjs: createTfjsKernel,
  [kRemoteKernel]: createRemoteKernel,
});

/**
 * Finds a model by name; a path (absolute, or with a `/` or `\\`) is a
 * model directory, read when prepared: a TF.js model when it holds
 * model.json, else the Hugging Face BERT layout.
 * @param name - the registry name or a directory path.
 * @returns its definition.
 * @throws {RangeError} naming the valid models, for an unknown name.
 */
export function getModel(name: string): ModelDefinition {
  const model = kModels[name];
  if (model === undefined && isModelPath(name)) return isTfjsModelDir(name) ? tfjsDirectoryDefinition(name) : bertDirectoryDefinition(name);
  if (model === undefined) throw new RangeError(`options.model must be one of ${Object.keys(kModels).map((k) => JSON.stringify(k)).join(', ')}, got ${JSON.stringify(name)}`);
  return model;
}

/**
 * Finds a worker kernel factory by name.
 * @param name - the kernel name a prepared model gives.
 * @returns the factory.
 * @throws {VecforgeError} ERR_MODEL for an unknown kernel.
 */
export function getKernel(name: string): KernelFactory {
  const kernel = kKernels[name];
  if (kernel === undefined) throw new VecforgeError('ERR_MODEL', `unknown embedding kernel "${name}"; known: ${Object.keys(kKernels).join(', ')}`);
  return kernel;
}

/**
 * Whether a model option names a directory rather than a registry entry.
 * @param name - the option's value.
 * @returns true for an absolute path or one with a path separator.
 */
export function isModelPath(name: string): boolean {
  return isAbsolute(name) || name.includes('/') || name.includes('\\');
}
