import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { Engine } from '../src/index.js';
import { envVarName, readConfigFile, resolveConfig, resolveConfigSourced } from '../src/config/resolve.js';
import { corpusRows, vecforge, writeJsonl } from './jobs-helpers.js';
import { kTestCacheDir, tempDir } from './helpers.js';

describe('config sections: index, job, search, output', () => {
  test('flags (options) > env > file > defaults, with the source of every value', () => {
    const sourced = resolveConfigSourced({
      options: { job: { idField: 'key' }, index: { m: 12 } },
      env: { VECFORGE_JOB__ID_FIELD: 'env-id', VECFORGE_JOB__CHECKPOINT_ITEMS: '777', VECFORGE_INDEX__EF_CONSTRUCTION: '99', VECFORGE_OUTPUT__JSON: 'true', VECFORGE_WORKERS: '1' },
      file: { job: { idField: 'file-id', checkpointItems: 5, textField: 'body' }, index: { m: 40, efSearch: 80 }, search: { k: 3 }, engine: { workers: 2 } },
    });
    expect(sourced.job.idField).toEqual({ value: 'key', source: 'option' });
    expect(sourced.index.m).toEqual({ value: 12, source: 'option' });
    expect(sourced.job.checkpointItems).toEqual({ value: 777, source: 'env' });
    expect(sourced.index.efConstruction).toEqual({ value: 99, source: 'env' });
    expect(sourced.output.json).toEqual({ value: true, source: 'env' });
    expect(sourced.engine.workers).toEqual({ value: 1, source: 'env' });
    expect(sourced.job.textField).toEqual({ value: 'body', source: 'file' });
    expect(sourced.index.efSearch).toEqual({ value: 80, source: 'file' });
    expect(sourced.search.k).toEqual({ value: 3, source: 'file' });
    expect(sourced.job.namespaceField).toEqual({ value: 'namespace', source: 'default' });
    expect(sourced.job.checkpointSeconds).toEqual({ value: 60, source: 'default' });
    expect(sourced.search.ef).toEqual({ value: undefined, source: 'default' });
    expect(resolveConfig({ env: {} }).index).toEqual({ space: 'cosine', m: 16, efConstruction: 200, efSearch: 64, pca: undefined, pcaSample: undefined, rerank: true, lexical: true, stopWords: undefined, bm25K1: undefined, bm25B: undefined });
  });

  test('the PCA keys of the index section come from env and file like the others', () => {
    const sourced = resolveConfigSourced({ env: { VECFORGE_INDEX__PCA: '32', VECFORGE_INDEX__PCA_SAMPLE: '500' }, file: { index: { rerank: false } } });
    expect(sourced.index.pca).toEqual({ value: 32, source: 'env' });
    expect(sourced.index.pcaSample).toEqual({ value: 500, source: 'env' });
    expect(sourced.index.rerank).toEqual({ value: false, source: 'file' });
    expect(() => resolveConfig({ env: { VECFORGE_INDEX__PCA: '0' } })).toThrow(new RangeError('environment variable VECFORGE_INDEX__PCA must be an integer in [1, 8192], got "0"'));
    expect(() => resolveConfig({ file: { index: { rerank: 'no' } } })).toThrow(new TypeError('config.index.rerank must be a boolean, got "no"'));
  });

  test('invalid values are refused, naming the key (or variable) and the allowed values', () => {
    expect(() => resolveConfig({ env: { VECFORGE_JOB__CHECKPOINT_ITEMS: 'often' } })).toThrow(
      new TypeError('environment variable VECFORGE_JOB__CHECKPOINT_ITEMS must be an integer in [1, 1000000000], got "often"'),
    );
    expect(() => resolveConfig({ env: { VECFORGE_JOB__KEEP_MISSING: 'yes' } })).toThrow(new TypeError('environment variable VECFORGE_JOB__KEEP_MISSING must be a boolean, got "yes"'));
    expect(() => resolveConfig({ env: { VECFORGE_INDEX__SPACE: 'hamming' } })).toThrow(new RangeError('environment variable VECFORGE_INDEX__SPACE must be one of "cosine", "ip", "l2", got "hamming"'));
    expect(() => resolveConfig({ env: { VECFORGE_JOB__NOPE: '1' } })).toThrow(
      new TypeError(
        'environment variable VECFORGE_JOB__NOPE names no option of section "job"; known: input, dir, format, idField, textField, namespaceField, metadataField, keepMissing, full, checkpointItems, checkpointSeconds, chunkSize, snippetChars, maxRecordBytes, embeddingCache, refitPca',
      ),
    );
    expect(() => resolveConfig({ env: {}, file: { index: { m: 1 } } })).toThrow(new RangeError('config.index.m must be an integer in [2, 2048], got 1'));
    expect(() => resolveConfig({ env: {}, file: { search: { k: '10' } } })).toThrow(new TypeError('config.search.k must be an integer in [1, 65536], got "10"'));
    expect(() => resolveConfig({ env: {}, file: { job: { idfield: 'x' } } })).toThrow(
      new TypeError(
        'config.job.idfield is not a known option; known options: input, dir, format, idField, textField, namespaceField, metadataField, keepMissing, full, checkpointItems, checkpointSeconds, chunkSize, snippetChars, maxRecordBytes, embeddingCache, refitPca',
      ),
    );
    expect(() => resolveConfig({ env: {}, file: { jobs: {} } })).toThrow(new TypeError('config: "jobs" is not a known section; known sections: engine, index, job, search, output, provider'));
    expect(envVarName('job', 'checkpointSeconds')).toBe('VECFORGE_JOB__CHECKPOINT_SECONDS');
  });

  test('YAML config files: parsed, validated, and read by the engine too', async () => {
    const dir = tempDir();
    const yaml = join(dir, 'vecforge.config.yaml');
    writeFileSync(yaml, `# vecforge settings\nengine:\n  workers: 1\n  cacheDir: ${kTestCacheDir}\njob:\n  idField: key\n  checkpointSeconds: 2.5\n`);
    expect(readConfigFile(yaml)).toEqual({ engine: { workers: 1, cacheDir: kTestCacheDir }, job: { idField: 'key', checkpointSeconds: 2.5 } });
    const engine = await Engine.create({}, { configFile: yaml });
    expect(engine.info().workers).toBe(1);
    await engine.close();
    writeFileSync(yaml, 'engine: [unclosed\n');
    expect(() => readConfigFile(yaml)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', message: expect.stringMatching(new RegExp(`^config file ${yaml} is not valid YAML: `)) as string }) as Error);
    writeFileSync(yaml, '- a list\n');
    expect(() => readConfigFile(yaml)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', message: `config file ${yaml} must hold a YAML mapping` }) as Error);
  });

  test('vecforge config prints each value and its source; a vecforge.config.yaml in the working directory is found; flags win', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'vecforge.config.yaml'), 'job:\n  idField: key\n  checkpointItems: 100\nsearch:\n  k: 5\n');
    const r = vecforge(['config', '--json', '--workers', '1'], { cwd: dir, env: { VECFORGE_JOB__CHECKPOINT_ITEMS: '200' } });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { file: string; sections: Record<string, Record<string, { value: unknown; source: string }>> };
    expect(out.file).toBe(join(dir, 'vecforge.config.yaml'));
    expect(out.sections.engine?.workers).toEqual({ value: 1, source: 'flag' });
    expect(out.sections.job?.checkpointItems).toEqual({ value: 200, source: 'env' });
    expect(out.sections.job?.idField).toEqual({ value: 'key', source: 'file' });
    expect(out.sections.search?.k).toEqual({ value: 5, source: 'file' });
    expect(out.sections.job?.textField).toEqual({ value: 'text', source: 'default' });

    const text = vecforge(['config'], { cwd: dir });
    expect(text.stdout).toContain(`config file: ${join(dir, 'vecforge.config.yaml')}`);
    expect(text.stdout).toMatch(/^job\.idField +key +file +VECFORGE_JOB__ID_FIELD$/m);
    expect(text.stdout).toMatch(/^index\.m +16 +default +VECFORGE_INDEX__M$/m);

    const bad = vecforge(['config'], { cwd: dir, env: { VECFORGE_SEARCH__K: '0' } });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('vecforge: environment variable VECFORGE_SEARCH__K must be an integer in [1, 65536], got "0"\n');
    writeFileSync(join(dir, 'broken.json'), '{ "job": ');
    const broken = vecforge(['config', '--config', join(dir, 'broken.json')], { cwd: dir });
    expect(broken.status).toBe(2);
    expect(broken.stderr).toBe(`vecforge: config file ${join(dir, 'broken.json')} is not valid JSON (ERR_CONFIG)\n`);
  });

  test('a job configured entirely by a --config file: fields, input, directory', () => {
    const dir = tempDir();
    const rows = corpusRows().slice(0, 30);
    const input = writeJsonl(
      join(dir, 'in.jsonl'),
      rows.map((r) => ({ key: r.id, body: r.text })),
    );
    const config = join(dir, 'settings.json');
    writeFileSync(config, JSON.stringify({ job: { input, dir: join(dir, 'idx'), idField: 'key', textField: 'body' }, output: { json: true, progress: 'off' } }));
    const r = vecforge(['build', '--config', config]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'ok', counts: { added: 30 } });
    const s = vecforge(['search', '--config', config, '--query', rows[0]?.text ?? '', '--k', '1']);
    expect(s.status, s.stderr).toBe(0);
    expect((JSON.parse(s.stdout) as { ids: string[] }).ids).toEqual([rows[0]?.id]);
  });
});
