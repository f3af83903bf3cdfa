/**
 * `--no-lexical`, `--stop-words LIST`, `--bm25-k1 N`, `--bm25-b N` (config
 * `index.lexical`, `index.stopWords`, `index.bm25K1`, `index.bm25B`): the
 * index option `lexical` of a new index.
 */
import type { LexicalOptions } from '../index/lexical/options.js';
import type { StopWords } from '../index/lexical/tokenize.js';
import type { CliConfig } from './cli-config.js';
import { UsageError } from './usage-error.js';

const kFlagOf = Object.freeze({ lexical: '--no-lexical', stopWords: '--stop-words', bm25K1: '--bm25-k1', bm25B: '--bm25-b' });
type LexicalKey = keyof typeof kFlagOf;

/**
 * The `lexical` index option the flags (or env, or config file) ask for.
 * @param cli - the resolved config with its sources.
 * @returns false for no lexical index, the options set, or undefined when none is set (the library's defaults; a full reindex keeps the index's own).
 * @throws {UsageError} for --stop-words, --bm25-k1 or --bm25-b with --no-lexical.
 */
export function lexicalFromConfig(cli: CliConfig): LexicalOptions | false | undefined {
  const { lexical, stopWords, bm25K1, bm25B } = cli.config.index;
  const set = (['stopWords', 'bm25K1', 'bm25B'] as const).filter((key) => cli.config.index[key] !== undefined);
  if (!lexical) {
    if (set.length > 0) {
      const sourced = cli.sourced.index;
      throw new UsageError(`${set.map((key) => `${kFlagOf[key]} (index.${key}, from ${sourced[key].source})`).join(', ')} set${set.length === 1 ? 's' : ''} the lexical index, but --no-lexical (index.lexical, from ${sourced.lexical.source}) asks for none`);
    }
    return false;
  }
  if (set.length === 0) return undefined;
  return { ...(bm25K1 !== undefined ? { k1: bm25K1 } : {}), ...(bm25B !== undefined ? { b: bm25B } : {}), ...(stopWords !== undefined ? { stopWords: stopWords satisfies StopWords } : {}) };
}

/**
 * The lexical flags given on the command line itself (not from env or a config file).
 * @param cli - the resolved config with its sources.
 * @returns their names, e.g. ['--stop-words'].
 */
export function lexicalFlagsGiven(cli: CliConfig): string[] {
  return (Object.keys(kFlagOf) as LexicalKey[]).filter((key) => cli.sourced.index[key].source === 'option').map((key) => kFlagOf[key]);
}
