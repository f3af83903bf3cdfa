/**
 * `vecforge config`: the resolved configuration and where each value came
 * from (flag, env, file, default).
 */
import { envVarName, type SectionName } from '../config/resolve.js';
import type { CliConfig } from './cli-config.js';
import { kExitOk } from './exit-codes.js';
import { shownConfigValue } from './provider-flags.js';

/**
 * Prints the resolved config.
 * @param cli - the resolved config with sources.
 * @returns the exit code.
 */
export function runConfig(cli: CliConfig): number {
  const sections: Record<string, Record<string, { value: unknown; source: string }>> = {};
  for (const [section, entries] of Object.entries(cli.sourced)) {
    const out: Record<string, { value: unknown; source: string }> = {};
    for (const [key, entry] of Object.entries(entries as Record<string, { value: unknown; source: string }>)) {
      out[key] = { value: shownConfigValue(section, key, entry.value) ?? null, source: entry.source === 'option' ? 'flag' : entry.source };
    }
    sections[section] = out;
  }
  if (cli.config.output.json) {
    process.stdout.write(`${JSON.stringify({ file: cli.file ?? null, sections })}\n`);
    return kExitOk;
  }
  process.stdout.write(`config file: ${cli.file ?? '(none: no --config, no vecforge.config.yaml/.yml/.json here)'}\n`);
  process.stdout.write('precedence: flag > env > file > default\n\n');
  for (const [section, entries] of Object.entries(sections)) {
    for (const [key, { value, source }] of Object.entries(entries)) {
      const shown = value === null ? '(unset)' : typeof value === 'string' ? value : JSON.stringify(value);
      process.stdout.write(`${`${section}.${key}`.padEnd(24)} ${shown.padEnd(28)} ${source.padEnd(8)} ${envVarName(section as SectionName, key)}\n`);
    }
  }
  return kExitOk;
}
