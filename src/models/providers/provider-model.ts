/**
 * Remote providers as a model kind: `openai:NAME` names a model of an
 * OpenAI-compatible endpoint. The definition prepares no weights: its
 * kernel is never run on the pool, because the engine embeds through the
 * provider on the main thread.
 */
import { throwIfAborted } from '../../errors.js';
import type { EmbedKernel, ModelDefinition, PreparedModel, PrepareContext } from '../embedder.js';
import { OpenAIProvider } from './openai.js';
import { resolveProviderOptions } from './options.js';

/** Provider kinds by the prefix of a model name (`openai:text-embedding-3-small`). */
export const kProviderKinds = Object.freeze(['openai'] as const);

/** The kernel name remote models report; see {@link createRemoteKernel}. */
export const kRemoteKernel = 'remote';

/**
 * Whether a model name names a remote provider.
 * @param name - the model option.
 * @returns true for `openai:NAME`.
 */
export function isProviderModel(name: string): boolean {
  return kProviderKinds.some((kind) => name.startsWith(`${kind}:`));
}

/** A provider model: its definition and the client the engine embeds through. */
export interface ProviderModel {
  readonly definition: ModelDefinition;
  readonly provider: OpenAIProvider;
}

/**
 * Builds a provider model from its name and options.
 * @param name - `openai:NAME`.
 * @param options - the `provider` options as given.
 * @param env - the engine's environment (for the API key).
 * @returns the definition and the client.
 * @throws {TypeError | RangeError} for invalid options or an empty model name.
 */
export function createProviderModel(name: string, options: unknown, env: NodeJS.ProcessEnv): ProviderModel {
  const modelName = name.slice(name.indexOf(':') + 1);
  if (modelName.trim() === '') throw new RangeError(`options.model must name the provider's model after "openai:", got ${JSON.stringify(name)}`);
  const resolved = resolveProviderOptions(options, env);
  const provider = new OpenAIProvider(modelName, resolved);
  const definition: ModelDefinition = Object.freeze({
    name,
    summary: `embeddings from the OpenAI-compatible endpoint ${provider.host}`,
    async prepare(ctx: PrepareContext): Promise<PreparedModel> {
      throwIfAborted(ctx.signal);
      const dims = await provider.probeDims(ctx.signal);
      return {
        // The cache key of every vector: provider, host, model and dims.
        id: `openai:${provider.host}/${modelName}@${dims}`,
        dims,
        kernel: kRemoteKernel,
        shared: null,
        needsTf: false,
        describe: {
          provider: 'openai',
          host: provider.host,
          model: modelName,
          dims,
          concurrency: resolved.concurrency,
          maxBatchItems: resolved.maxBatchItems,
          maxBatchTokens: resolved.maxBatchTokens,
          apiKey: resolved.apiKey === undefined ? 'none' : 'set',
        },
      };
    },
  });
  return { definition, provider };
}

/**
 * The pool kernel of a remote model: workers still run index tasks, but
 * never embed for a remote model.
 * @returns a kernel that refuses to embed.
 */
export function createRemoteKernel(): EmbedKernel {
  return {
    dims: 0,
    embedBatch(): Float32Array {
      throw new Error('a remote model embeds on the main thread, not in a worker');
    },
  };
}
