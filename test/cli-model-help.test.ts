import { describe, expect, test } from 'vitest';
import { buildProgram } from '../src/cli/main.js';

describe('--model help', () => {
  const program = buildProgram(() => {});
  test.each(['embed', 'info', 'demo', 'build', 'reindex', 'search', 'verify', 'config'])('%s --help names a registry name, a model directory (HF or TF.js) and openai:NAME', (name) => {
    const cmd = program.commands.find((c) => c.name() === name);
    expect(cmd).toBeDefined();
    const help = (cmd?.helpInformation() ?? '').replace(/\s+/g, ' ');
    expect(help).toContain('--model <name|dir>');
    expect(help).toContain('a built-in name (glove-100d, the default)');
    expect(help).toContain('a model directory');
    expect(help).toContain('Hugging Face BERT layout');
    expect(help).toContain('a TF.js model.json with vocab.txt and vecforge.json');
    expect(help).toContain('openai:NAME');
  });
});
