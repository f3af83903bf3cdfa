/**
 * Runs TF.js models saved as model.json: graph models through
 * @tensorflow/tfjs-converter, layers models through @tensorflow/tfjs-layers.
 * The only file that imports either; both are optional peers of
 * @tensorflow/tfjs-core (same version), loaded only when a TF.js model
 * directory is used.
 */
import { createRequire } from 'node:module';
import { VecforgeError } from '../errors.js';
import type { Tf } from './backend.js';

/** The two model.json formats tensorflowjs_converter and TF.js write. */
export type TfjsModelFormat = 'graph' | 'layers';

/** The package that runs each format. */
export const kTfjsModelPackages: Readonly<Record<TfjsModelFormat, string>> = Object.freeze({
  graph: '@tensorflow/tfjs-converter',
  layers: '@tensorflow/tfjs-layers',
});

type Tensor = ReturnType<Tf['tensor']>;

/** A loaded model: named inputs in, one named output out. */
export interface RunnableModel {
  /**
   * Runs the model.
   * @param inputs - tensors by input name (graph: signature key or node name; layers: input layer name).
   * @param output - the output's name (graph: signature key or node name; layers: output layer name).
   * @returns the output tensor (the caller disposes it).
   */
  run(inputs: Readonly<Record<string, Tensor>>, output: string): Tensor;
  /** Frees the model's weights. */
  dispose(): void;
}

/** What a model.json holds, with its weights read (tfjs-core's ModelJSON plus the data). */
export interface TfjsModelSource {
  readonly modelJson: Record<string, unknown>;
  /** Weight entries in the order their bytes lie in `weightData`. */
  readonly weightSpecs: readonly unknown[];
  readonly weightData: ArrayBuffer;
}

const require = createRequire(import.meta.url);

/**
 * Whether the package that runs a format is installed (without loading it).
 * @param format - graph or layers.
 * @returns true when it resolves.
 */
export function isTfjsModelRuntimeInstalled(format: TfjsModelFormat): boolean {
  try {
    require.resolve(kTfjsModelPackages[format]);
    return true;
  } catch {
    return false;
  }
}

interface GraphModelLike {
  execute(inputs: Record<string, Tensor>, outputs: string): Tensor | Tensor[];
  dispose(): void;
}

interface LayersModelLike {
  readonly inputNames: string[];
  readonly outputNames: string[];
  predict(inputs: Tensor[]): Tensor | Tensor[];
  dispose(): unknown;
}

/**
 * Loads a model from memory with the package for its format.
 * @param tf - TF.js core with a backend ready.
 * @param format - graph or layers.
 * @param source - model.json and its weights.
 * @returns the runnable model.
 * @throws {VecforgeError} ERR_MODEL when the package is missing or the model does not load.
 */
export async function loadTfjsModel(tf: Tf, format: TfjsModelFormat, source: TfjsModelSource): Promise<RunnableModel> {
  const pkg = kTfjsModelPackages[format];
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pkg)) as Record<string, unknown>;
  } catch (error) {
    throw new VecforgeError('ERR_MODEL', `TF.js ${format} models need the package ${pkg}, which is not installed`, { cause: error });
  }
  const artifacts = tf.io.getModelArtifactsForJSONSync(source.modelJson as never, source.weightSpecs as never, source.weightData);
  const handler = tf.io.fromMemory(artifacts);
  try {
    if (format === 'graph') {
      const model = (await (mod.loadGraphModel as (h: unknown) => Promise<GraphModelLike>)(handler)) as GraphModelLike;
      return {
        run: (inputs, output) => {
          const out = model.execute({ ...inputs }, output);
          return Array.isArray(out) ? (out[0] as Tensor) : out;
        },
        dispose: () => model.dispose(),
      };
    }
    const model = await (mod.loadLayersModel as (h: unknown) => Promise<LayersModelLike>)(handler);
    return {
      run: (inputs, output) => {
        const ordered = model.inputNames.map((name) => {
          const t = inputs[name];
          if (t === undefined) throw new VecforgeError('ERR_MODEL', `the layers model's input "${name}" was not given; inputs: ${model.inputNames.join(', ')}`);
          return t;
        });
        const at = model.outputNames.indexOf(output);
        if (at < 0) throw new VecforgeError('ERR_MODEL', `the layers model has no output "${output}"; outputs: ${model.outputNames.join(', ')}`);
        const out = model.predict(ordered);
        if (!Array.isArray(out)) return out;
        for (const [i, t] of out.entries()) if (i !== at) t.dispose();
        return out[at] as Tensor;
      },
      dispose: () => {
        model.dispose();
      },
    };
  } catch (error) {
    if (error instanceof VecforgeError) throw error;
    throw new VecforgeError('ERR_MODEL', `the TF.js ${format} model does not load: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
