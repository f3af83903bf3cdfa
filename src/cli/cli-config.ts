/**
 * Flags and config: every config key a command takes has a flag, parsed
 * and validated by the same field map as the config file and the
 * environment; values resolve flags > env > file > defaults.
 */
import { InvalidArgumentError, Option } from 'commander';
import { findConfigFile, kConfigSections, readConfigFile, resolveConfigSourced, type ResolvedConfig, type SectionName, type SourcedConfig } from '../config/resolve.js';
import { parseDecimal } from '../config/fields.js';
import { checkProviderFlags } from './provider-flags.js';
import { asUsageError } from './usage-error.js';

/** A flag bound to a config key. */
export interface FlagSpec {
  /** The flag, e.g. `--ef-construction <n>`. */
  readonly flags: string;
  readonly section: SectionName;
  readonly key: string;
  readonly description: string;
}

/** Flags by name (commander's attribute name for them). */
export const kFlags = Object.freeze({
  workers: { flags: '--workers <n>', section: 'engine', key: 'workers', description: 'worker threads (default: cores)' },
  model: {
    flags: '--model <name|dir>',
    section: 'engine',
    key: 'model',
    description:
      'embedding model: a built-in name (glove-100d, the default); a model directory, a path with a "/" (Hugging Face BERT layout: config.json, vocab.txt or tokenizer.json, model.safetensors; or a TF.js model.json with vocab.txt and vecforge.json); or openai:NAME, an OpenAI-compatible endpoint',
  },
  backend: { flags: '--backend <name>', section: 'engine', key: 'backend', description: 'TF.js backend (default: auto)' },
  cacheDir: { flags: '--cache-dir <dir>', section: 'engine', key: 'cacheDir', description: 'where converted model caches live (default: $XDG_CACHE_HOME/vecforge or $HOME/.cache/vecforge)' },
  input: { flags: '--input <path>', section: 'job', key: 'input', description: 'JSONL or CSV input' },
  out: { flags: '--out <dir>', section: 'job', key: 'dir', description: 'index directory to create' },
  index: { flags: '--index <dir>', section: 'job', key: 'dir', description: 'index directory to update' },
  format: { flags: '--format <format>', section: 'job', key: 'format', description: 'input format: auto, jsonl, csv (default: auto)' },
  idField: { flags: '--id-field <name>', section: 'job', key: 'idField', description: 'field or CSV column holding the id (default: id)' },
  textField: { flags: '--text-field <name>', section: 'job', key: 'textField', description: 'field or CSV column holding the text (default: text)' },
  namespaceField: { flags: '--namespace-field <name>', section: 'job', key: 'namespaceField', description: 'field or CSV column holding the namespace (default: namespace)' },
  metadataField: { flags: '--metadata-field <name>', section: 'job', key: 'metadataField', description: 'JSON field holding the metadata object (default: metadata)' },
  keepMissing: { flags: '--keep-missing', section: 'job', key: 'keepMissing', description: 'keep documents missing from the input' },
  full: { flags: '--full', section: 'job', key: 'full', description: 'rebuild from scratch instead of diffing' },
  checkpointItems: { flags: '--checkpoint-items <n>', section: 'job', key: 'checkpointItems', description: 'checkpoint every N records (default: 50000)' },
  checkpointSeconds: { flags: '--checkpoint-seconds <s>', section: 'job', key: 'checkpointSeconds', description: 'checkpoint every S seconds (default: 60)' },
  chunkSize: { flags: '--chunk-size <n>', section: 'job', key: 'chunkSize', description: 'records per chunk (default: 4096)' },
  snippetChars: { flags: '--snippet-chars <n>', section: 'job', key: 'snippetChars', description: 'characters of text kept for search output (default: 200)' },
  maxRecordBytes: { flags: '--max-record-bytes <n>', section: 'job', key: 'maxRecordBytes', description: 'largest input line or CSV record (default: 8 MiB)' },
  embeddingCache: { flags: '--no-embedding-cache', section: 'job', key: 'embeddingCache', description: 'do not use the embedding cache' },
  space: { flags: '--space <space>', section: 'index', key: 'space', description: 'distance: cosine, ip, l2 (default: cosine)' },
  m: { flags: '--m <n>', section: 'index', key: 'm', description: 'HNSW links per node (default: 16)' },
  efConstruction: { flags: '--ef-construction <n>', section: 'index', key: 'efConstruction', description: 'HNSW build candidate list size (default: 200)' },
  efSearch: { flags: '--ef-search <n>', section: 'index', key: 'efSearch', description: 'default search candidate list size stored in the index (default: 64)' },
  pca: { flags: '--pca <dims>', section: 'index', key: 'pca', description: 'store vectors projected by PCA to this many dims, below the input dims (default: no PCA)' },
  pcaSample: { flags: '--pca-sample <n>', section: 'index', key: 'pcaSample', description: 'with --pca: vectors the PCA is fitted on, at least --pca (default: 20000)' },
  rerank: { flags: '--no-rerank', section: 'index', key: 'rerank', description: 'with --pca: keep no full vectors, no exact rerank (default: rerank)' },
  lexical: { flags: '--no-lexical', section: 'index', key: 'lexical', description: 'keep no lexical (BM25) index: vector search only, and texts with no word the model knows fail (default: a lexical index)' },
  stopWords: { flags: '--stop-words <list>', section: 'index', key: 'stopWords', description: "words the lexical index leaves out: english (Lucene's 33: a, of, the, ...) or none (default: english)" },
  bm25K1: { flags: '--bm25-k1 <n>', section: 'index', key: 'bm25K1', description: 'BM25 term-frequency saturation k1, 0-100 (default: 1.2)' },
  bm25B: { flags: '--bm25-b <n>', section: 'index', key: 'bm25B', description: 'BM25 length normalisation b, 0-1 (default: 0.75)' },
  refitPca: { flags: '--refit-pca', section: 'job', key: 'refitPca', description: 'refit the PCA model on the current data and rebuild the graph' },
  query: { flags: '--query <text>', section: 'search', key: 'query', description: 'one query text' },
  queries: { flags: '--queries <file>', section: 'search', key: 'queries', description: 'JSONL of {"query": text} (or {"text": text}), one query a line' },
  k: { flags: '--k <n>', section: 'search', key: 'k', description: 'neighbours per query (default: 10)' },
  ef: { flags: '--ef <n>', section: 'search', key: 'ef', description: 'search candidate list size (default: the index efSearch)' },
  namespace: { flags: '--namespace <name>', section: 'search', key: 'namespace', description: 'only this namespace' },
  json: { flags: '--json', section: 'output', key: 'json', description: 'machine-readable output' },
  progress: { flags: '--progress <mode>', section: 'output', key: 'progress', description: 'auto, bar, log (one JSON line per checkpoint on stderr), off (default: auto)' },
  baseUrl: { flags: '--base-url <url>', section: 'provider', key: 'baseUrl', description: 'with --model openai:NAME: the OpenAI-compatible endpoint; requests go to URL/embeddings (default: https://api.openai.com/v1)' },
  dims: { flags: '--dims <n>', section: 'provider', key: 'dims', description: 'provider: output dims, sent as `dimensions` (default: what the first response has)' },
  concurrency: { flags: '--concurrency <n>', section: 'provider', key: 'concurrency', description: 'provider: requests in flight, 1-64 (default: 8)' },
  maxBatchItems: { flags: '--max-batch-items <n>', section: 'provider', key: 'maxBatchItems', description: 'provider: texts per request (default: 256)' },
  maxBatchTokens: { flags: '--max-batch-tokens <n>', section: 'provider', key: 'maxBatchTokens', description: 'provider: estimated tokens per request (default: 100000)' },
  requestsPerMinute: { flags: '--requests-per-minute <n>', section: 'provider', key: 'requestsPerMinute', description: 'provider: client-side request rate limit, 0 for none (default: 0)' },
  tokensPerMinute: { flags: '--tokens-per-minute <n>', section: 'provider', key: 'tokensPerMinute', description: 'provider: client-side token rate limit, 0 for none (default: 0)' },
  requestTimeoutMs: { flags: '--request-timeout-ms <n>', section: 'provider', key: 'requestTimeoutMs', description: 'provider: time allowed to one request (default: 60000)' },
  maxRetries: { flags: '--max-retries <n>', section: 'provider', key: 'maxRetries', description: 'provider: retries of one request on 429, 5xx, a timeout or a dropped connection (default: 6)' },
  breakerFailures: { flags: '--breaker-failures <n>', section: 'provider', key: 'breakerFailures', description: 'provider: consecutive failed requests that open the circuit breaker (default: 10)' },
  breakerCooldownMs: { flags: '--breaker-cooldown-ms <n>', section: 'provider', key: 'breakerCooldownMs', description: 'provider: how long the breaker stays open before one probe (default: 30000)' },
} satisfies Record<string, FlagSpec>);

/** A flag name. */
export type FlagName = keyof typeof kFlags;

function flagName(spec: FlagSpec): string {
  return spec.flags.split(' ')[0] ?? spec.flags;
}

/**
 * A commander option for a flag, whose value is parsed and validated by
 * the key's field: `--m must be an integer in [2, 2048], got "0"`.
 * @param name - the flag name.
 * @returns the option (no default: defaults come from the config).
 */
export function flagOption(name: FlagName): Option {
  const spec: FlagSpec = kFlags[name];
  const option = new Option(spec.flags, spec.description);
  const field = (kConfigSections[spec.section] as Record<string, (typeof kConfigSections)['job'][keyof (typeof kConfigSections)['job']]>)[spec.key];
  if (field === undefined || field.expectedType === 'boolean') return option;
  return option.argParser((raw: string) => {
    const value = field.expectedType === 'number' ? (parseDecimal(raw) ?? Number.NaN) : raw;
    if (!field.schema.safeParse(value).success) throw new InvalidArgumentError(`${flagName(spec)} must be ${field.describe}, got ${JSON.stringify(raw)}`);
    return value;
  });
}

/** The flag of each `provider` key, for messages. */
function providerFlagNames(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of Object.values(kFlags) as FlagSpec[]) if (spec.section === 'provider') out[spec.key] = flagName(spec);
  return out;
}

/** The config of one command run. */
export interface CliConfig {
  readonly config: ResolvedConfig;
  readonly sourced: SourcedConfig;
  /** The config file used, if any. */
  readonly file: string | undefined;
}

/**
 * Resolves the config of a command: flags > env > file > defaults. The
 * file is `--config FILE`, else the first of vecforge.config.yaml / .yml /
 * .json in the working directory.
 * @param flags - commander's parsed options.
 * @param env - the environment.
 * @returns the resolved config and where each value came from.
 * @throws {UsageError} ERR_USAGE naming the key, for an invalid value.
 * @throws {VecforgeError} ERR_CONFIG for an unreadable config file.
 */
export function resolveCliConfig(flags: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv = process.env): CliConfig {
  try {
    return resolveSources(flags, env);
  } catch (error) {
    throw asUsageError(error);
  }
}

function resolveSources(flags: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv): CliConfig {
  const options: Partial<Record<SectionName, Record<string, unknown>>> = {};
  for (const [name, spec] of Object.entries(kFlags) as Array<[string, FlagSpec]>) {
    const value = flags[name];
    if (value === undefined) continue;
    // A negated flag (--no-embedding-cache) is true unless given.
    if (spec.flags.startsWith('--no-') && value === true) continue;
    // Boolean flags are either given (true) or absent: false never overrides the config.
    if (value === false && !spec.flags.startsWith('--no-')) continue;
    const section = options[spec.section] ?? {};
    options[spec.section] = section;
    section[spec.key] = value;
  }
  const configFlag = flags.config;
  const file = typeof configFlag === 'string' ? configFlag : findConfigFile();
  const parsed = file !== undefined ? readConfigFile(file) : undefined;
  const sourced = resolveConfigSourced({ options, env, ...(parsed !== undefined ? { file: parsed, fileName: `config file ${file}` } : {}) });
  const config: Record<string, Record<string, unknown>> = {};
  for (const [section, entries] of Object.entries(sourced)) {
    const values: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(entries as Record<string, { value: unknown }>)) values[key] = entry.value;
    config[section] = values;
  }
  checkProviderFlags(sourced, providerFlagNames());
  return { config: config as unknown as ResolvedConfig, sourced, file };
}
