/**
 * TF.js backend selection. This is the only file that imports TF.js: the
 * rest of vecforge reaches it through {@link loadTf}.
 */
import { createRequire } from 'node:module';
import { VecforgeError } from '../errors.js';

/** The backends vecforge knows, best first. */
export const kBackendNames = Object.freeze(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const);

/** A TF.js backend name vecforge can select. */
export type BackendName = (typeof kBackendNames)[number];

/** `auto` picks the first installed backend of {@link kBackendNames}. */
export type BackendChoice = BackendName | 'auto';

const kPeerPackage: Readonly<Record<BackendName, string>> = Object.freeze({
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
});

const require = createRequire(import.meta.url);

/** The TF.js core module type. */
export type Tf = typeof import('@tensorflow/tfjs-core');

/**
 * Tells whether the package behind a backend is installed, without loading
 * it (loading tfjs-node pulls in libtensorflow).
 * @param name - the backend.
 * @returns true when its package resolves.
 */
export function isBackendInstalled(name: BackendName): boolean {
  try {
    require.resolve(kPeerPackage[name]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves `auto` to a concrete backend: tfjs-node-gpu, then tfjs-node,
 * then wasm, then cpu, whichever is installed first.
 * @param choice - a backend name or `auto`.
 * @returns the concrete backend name.
 * @throws {VecforgeError} ERR_BACKEND when the named backend is not installed.
 */
export function resolveBackend(choice: BackendChoice): BackendName {
  if (choice !== 'auto') {
    if (!isBackendInstalled(choice)) {
      throw new VecforgeError(
        'ERR_BACKEND',
        `TF.js backend "${choice}" needs the package ${kPeerPackage[choice]}, which is not installed`,
      );
    }
    return choice;
  }
  for (const name of kBackendNames) if (isBackendInstalled(name)) return name;
  throw new VecforgeError('ERR_BACKEND', 'no TF.js backend is installed');
}

/** Whether a backend drives a GPU, and so must be owned by one worker. */
export function isGpuBackend(name: BackendName): boolean {
  return name === 'tensorflow-gpu';
}

let loaded: { name: BackendName; tf: Tf } | undefined;

/**
 * Loads TF.js with the given backend in this thread, once.
 * @param name - the backend to activate.
 * @returns the TF.js core module, with the backend ready.
 * @throws {VecforgeError} ERR_BACKEND when the backend fails to start.
 */
export async function loadTf(name: BackendName): Promise<Tf> {
  if (loaded !== undefined) {
    if (loaded.name !== name) {
      throw new VecforgeError('ERR_BACKEND', `TF.js already runs backend "${loaded.name}" in this thread, not "${name}"`);
    }
    return loaded.tf;
  }
  const tf = (await import('@tensorflow/tfjs-core')) as Tf;
  let tfBackend: string;
  switch (name) {
    case 'tensorflow-gpu':
      await import(kPeerPackage[name]);
      tfBackend = 'tensorflow';
      break;
    case 'tensorflow':
      await import(kPeerPackage[name]);
      tfBackend = 'tensorflow';
      break;
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      tfBackend = 'wasm';
      break;
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      tfBackend = 'cpu';
      break;
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend(tfBackend);
  } catch (error) {
    throw new VecforgeError('ERR_BACKEND', `TF.js backend "${name}" failed to start`, { cause: error });
  }
  if (!ok) throw new VecforgeError('ERR_BACKEND', `TF.js backend "${name}" failed to start`);
  await tf.ready();
  loaded = { name, tf };
  return tf;
}
