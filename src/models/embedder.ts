/**
 * The Embedder interface every model plugs into. A model has two halves:
 * a {@link ModelDefinition} that runs once on the main thread (convert or
 * load weights into shared memory, describe dims), and an
 * {@link EmbedKernel} that each pool worker builds from the prepared,
 * shared state and calls per batch. The same shape fits the built-in GloVe
 * model, a TF.js model from a local directory, an HTTP endpoint (the kernel
 * awaits fetch) and precomputed vectors (the kernel is never called: vectors
 * go straight to the index).
 */
import type { BackendName, Tf } from '../tensor/backend.js';

/** Per-item kernel outcome codes, written into the shared status array. */
export const kItemPending = 0;
/** The row holds a finite, normalised vector. */
export const kItemOk = 1;
/** No token of the text is in the model's vocabulary; the row is zero. */
export const kItemNoKnownWords = 2;
/** The row holds a vector of the text cut to the model's maximum sequence length. */
export const kItemOkTruncated = 3;

/**
 * Whether a kernel status code means the row holds a vector.
 * @param status - a kItem* code.
 * @returns true for kItemOk and kItemOkTruncated.
 */
export function isItemOk(status: number): boolean {
  return status === kItemOk || status === kItemOkTruncated;
}

/**
 * How the scheduler sizes a model's batches, for a model whose cost is not
 * linear in text length (a transformer pads a batch to its longest text
 * and its attention grows with length²). Main thread only; never sent to
 * workers.
 */
export interface BatchCost {
  /**
   * A text's length in model tokens (the real tokenizer, special tokens and truncation included).
   * @param text - a valid text.
   * @returns tokens, ≥ 1.
   */
  tokens(text: string): number;
  /**
   * The cost of a batch, in the units of the engine's `batchTokens`.
   * @param rows - texts in the batch.
   * @param longest - the batch's longest text, in tokens.
   * @returns the cost.
   */
  cost(rows: number, longest: number): number;
}

/** What a model definition prepares once on the main thread. */
export interface PreparedModel {
  /** How the scheduler cuts batches; without it, a UTF-16 token estimate summed over texts. */
  readonly batchCost?: BatchCost;
  /** Stable id of the model and its weights, used to key embedding caches. */
  readonly id: string;
  /** Output dims. */
  readonly dims: number;
  /** Name of the kernel factory workers use, from the kernel registry. */
  readonly kernel: string;
  /**
   * State passed to every worker. Must be structured-clonable; large parts
   * must be SharedArrayBuffers so that N workers share one copy.
   */
  readonly shared: unknown;
  /** Files and sizes to show in `engine.info()`. */
  readonly describe: Readonly<Record<string, string | number>>;
  /** Whether the model needs the TF.js backend in workers. */
  readonly needsTf: boolean;
}

/** Context a definition prepares in. */
export interface PrepareContext {
  /** Where model caches go. */
  readonly cacheDir: string;
  /** Cancels a long preparation. */
  readonly signal?: AbortSignal | undefined;
  /** The TF.js backend workers will run. */
  readonly backend: BackendName;
  /** The engine's `math` option: TF.js ops, fused JS, or auto. */
  readonly math: 'auto' | 'tfjs' | 'js';
}

/** The main-thread half of a model. */
export interface ModelDefinition {
  /** Registry name, e.g. `glove-100d`. */
  readonly name: string;
  /** One line saying what the model is. */
  readonly summary: string;
  /**
   * Makes the model ready: converts or loads weights into shared memory.
   * @param ctx - cache dir and signal.
   * @returns the prepared model.
   */
  prepare(ctx: PrepareContext): Promise<PreparedModel>;
}

/**
 * A batch read straight from the call's shared memory: the window's UTF-8
 * text bytes and the rows and statuses of the output arena.
 */
export interface SlabBatch {
  /** UTF-8 bytes of the window's texts. */
  readonly bytes: Uint8Array;
  /** Item `base + k` is bytes [offsets[k], offsets[k + 1]). */
  readonly offsets: Uint32Array;
  /** The window's first item. */
  readonly base: number;
  /** The batch's items (indexes in the call), already validated. */
  readonly items: Uint32Array;
  /** rows × dims of the whole call: item i's row starts at i × dims. */
  readonly out: Float32Array;
  /** Per-item status of the whole call, written with kItem* codes. */
  readonly status: Uint8Array;
}

/** The worker half of a model: embeds one batch. */
export interface EmbedKernel {
  /** Output dims. */
  readonly dims: number;
  /**
   * Embeds a batch. Row j of the result belongs to texts[j].
   * @param texts - the batch, already validated (non-empty, well-formed).
   * @param status - per-item outcome, written with kItem* codes.
   * @returns rows × dims, L2-normalised where status is kItemOk, zero elsewhere.
   */
  embedBatch(texts: readonly string[], status: Uint8Array): Float32Array | Promise<Float32Array>;
  /**
   * Optional fast path: embeds a batch straight from shared memory into the
   * output arena, with no strings and no intermediate arrays. Kernels
   * without it get decoded texts through {@link EmbedKernel.embedBatch}.
   * Must write the same rows and statuses `embedBatch` would.
   * @param batch - the batch's bytes, items and outputs.
   */
  embedSlab?(batch: SlabBatch): void;
}

/** Builds a kernel inside a worker from a prepared model's shared state. */
export type KernelFactory = (shared: unknown, tf: Tf | undefined) => EmbedKernel | Promise<EmbedKernel>;
