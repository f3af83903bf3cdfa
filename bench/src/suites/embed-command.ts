/**
 * embed-command suite (on demand): the whole `vecforge embed` command over
 * real definitions against the engine's own embedding of the same texts, in
 * the same run, 1 and 2 workers alternating. The command's `--json`
 * summary gives its stages (start, read, embed, write, run); `run` (engine
 * ready → outputs closed) is what compares with the engine's time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from 'vecforge';
import { prepareDefinitions, readDefinitionTexts } from '../data/definitions.js';
import { miniLmBenchSet } from '../data/minilm-random.js';
import { median } from '../measure.js';
import { repoRoot } from '../paths.js';
import type { Report } from '../report/report.js';
import type { SuiteContext } from './suite.js';

interface CommandSummary {
  readonly seconds: number;
  readonly count: number;
  readonly stages: { readonly start: { ms: number }; readonly read: { ms: number; waitMs: number }; readonly embed: { ms: number }; readonly write: { ms: number }; readonly run: { ms: number; mainThreadUtilization: number } };
}

/**
 * Runs the figures.
 * @param report - receives tables and figures.
 * @param ctx - quick mode and data dir.
 */
export async function runEmbedCommandSuite(report: Report, ctx: SuiteContext): Promise<void> {
  const count = ctx.quick ? 10_000 : 117_659;
  const rounds = ctx.quick ? 2 : 6;
  const corpus = await prepareDefinitions({ cacheDir: join(ctx.dataDir, 'wordnet'), count });
  const texts = readDefinitionTexts(corpus.path, count);
  const dataset = `${texts.length} WordNet definitions (Debian wordnet-base), JSONL`;
  const bin = join(repoRoot(), 'bin', 'vecforge.js');
  const out = mkdtempSync(join(tmpdir(), 'vecforge-bench-cmd-'));
  const engines = new Map<number, Engine>([
    [1, await Engine.create({ workers: 1, backend: 'wasm' })],
    [2, await Engine.create({ workers: 2, backend: 'wasm' })],
  ]);
  const engineMs = new Map<number, number[]>([[1, []], [2, []]]);
  const coldMs = new Map<number, number[]>([[1, []], [2, []]]);
  const command = new Map<number, CommandSummary[]>([[1, []], [2, []]]);
  try {
    for (const engine of engines.values()) await engine.embed(texts.slice(0, 5_000));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? [1, 2] : [2, 1];
      for (const w of order) {
        // The engine's own time: a warm engine streams the same texts in the command's windows.
        const t0 = performance.now();
        for await (const _ of engines.get(w)?.embedStream(texts) ?? []) {
          // Windows are only drained, as the command would write them.
        }
        engineMs.get(w)?.push(performance.now() - t0);
        // On the command's terms: a fresh engine's first pass (workers not yet warmed by earlier calls).
        const fresh = await Engine.create({ workers: w, backend: 'wasm' });
        try {
          const t1 = performance.now();
          for await (const _ of fresh.embedStream(texts)) {
            // Drained only.
          }
          coldMs.get(w)?.push(performance.now() - t1);
        } finally {
          await fresh.close();
        }
        const r = spawnSync(process.execPath, [bin, 'embed', '--input', corpus.path, '--output', join(out, `o${w}.npy`), '--workers', String(w), '--backend', 'wasm', '--json'], { encoding: 'utf8' });
        // Exit 3: some rows failed (definitions with no known word); the summary is still printed.
        if (r.status !== 0 && r.status !== 3) throw new Error(`vecforge embed exited ${r.status}: ${r.stderr.slice(0, 500)}`);
        command.get(w)?.push(JSON.parse(r.stdout.trim()) as CommandSummary);
      }
    }
  } finally {
    await Promise.all([...engines.values()].map((e) => e.close()));
    rmSync(out, { recursive: true, force: true });
  }
  const med = (w: number, pick: (s: CommandSummary) => number): number => median((command.get(w) ?? []).map(pick));
  const eng = (w: number): number => median(engineMs.get(w) ?? []);
  const cold = (w: number): number => median(coldMs.get(w) ?? []);
  const rows = [1, 2].map((w) => [
    w,
    eng(w),
    cold(w),
    med(w, (s) => s.stages.run.ms),
    med(w, (s) => s.seconds * 1000),
    med(w, (s) => s.stages.start.ms),
    med(w, (s) => s.stages.read.ms),
    med(w, (s) => s.stages.read.waitMs),
    med(w, (s) => s.stages.write.ms),
    med(w, (s) => s.stages.run.mainThreadUtilization),
    med(w, (s) => s.stages.run.ms) / eng(w),
    med(w, (s) => s.stages.run.ms) / cold(w),
  ]);
  report.table({
    suite: 'embed-command',
    title: `vecforge embed (whole command) vs the engine's own embedding, glove-100d on wasm, ${dataset}`,
    columns: ['workers', 'engine ms (warm)', 'engine ms (fresh, first pass)', 'command run ms', 'command total ms', 'start ms', 'read ms (reader worker)', 'main waited for input ms', 'write ms (main)', 'main-thread utilisation in run', 'run / warm engine', 'run / fresh engine'],
    rows,
    note: `Medians of ${rounds} alternating rounds (ABBA). Engine: embedStream over the same texts (already parsed), by a warm engine, and by a fresh engine on its first pass (the command's terms). Command: a fresh process each round; run = engine ready to outputs closed (read, embed and write overlap; the reader worker parses while the engine starts); total includes process and engine start-up.`,
  });
  const conditions = { dataset, backend: 'wasm', rounds, method: 'median of alternating rounds' };
  for (const w of [1, 2]) {
    const label = `${w} worker${w > 1 ? 's' : ''}`;
    report.figure({ suite: 'embed-command', name: `ratio: command run / warm engine embed, ${label}`, value: med(w, (s) => s.stages.run.ms) / eng(w), unit: '×', conditions });
    report.figure({ suite: 'embed-command', name: `ratio: command run / fresh engine embed, ${label}`, value: med(w, (s) => s.stages.run.ms) / cold(w), unit: '×', conditions });
  }
  report.figure({ suite: 'embed-command', name: 'ratio: whole command 2 workers / 1 worker (speed-up)', value: med(1, (s) => s.seconds) / med(2, (s) => s.seconds), unit: '×', conditions });
  report.figure({ suite: 'embed-command', name: 'ratio: command run 2 workers / 1 worker (speed-up)', value: med(1, (s) => s.stages.run.ms) / med(2, (s) => s.stages.run.ms), unit: '×', conditions });
  await neuralCommand(report, ctx, bin);
  process.stdout.write(`\ncommand run / warm engine: ${(med(1, (s) => s.stages.run.ms) / eng(1)).toFixed(2)}× (1 worker), ${(med(2, (s) => s.stages.run.ms) / eng(2)).toFixed(2)}× (2 workers); / fresh engine: ${(med(1, (s) => s.stages.run.ms) / cold(1)).toFixed(2)}×, ${(med(2, (s) => s.stages.run.ms) / cold(2)).toFixed(2)}×\n`);
}

/**
 * The whole command with a neural model (the model suite's random-weight
 * all-MiniLM-L6-v2 shape): 1 and 2 workers alternating, a fresh process a
 * run; the speed-up of the whole command (start-up included) and of its
 * run stage.
 */
async function neuralCommand(report: Report, ctx: SuiteContext, bin: string): Promise<void> {
  const count = ctx.modelTexts ?? (ctx.quick ? 300 : 4_000);
  const rounds = ctx.quick ? 1 : 2;
  const { model, all, texts, step } = await miniLmBenchSet(ctx.dataDir, count);
  const out = mkdtempSync(join(tmpdir(), 'vecforge-bench-cmd-neural-'));
  const runs = new Map<number, CommandSummary[]>([
    [1, []],
    [2, []],
  ]);
  try {
    const input = join(out, 'texts.jsonl');
    writeFileSync(input, texts.map((text, i) => `${JSON.stringify({ id: `d${i}`, text })}\n`).join(''));
    for (let round = 0; round < rounds; round++) {
      for (const w of round % 2 === 0 ? [1, 2] : [2, 1]) {
        const r = spawnSync(process.execPath, [bin, 'embed', '--input', input, '--output', join(out, `o${w}.npy`), '--model', model.dir, '--workers', String(w), '--backend', 'wasm', '--json'], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`vecforge embed --model exited ${r.status}: ${r.stderr.slice(0, 500)}`);
        runs.get(w)?.push(JSON.parse(r.stdout.trim()) as CommandSummary);
      }
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  const med = (w: number, pick: (s: CommandSummary) => number): number => median((runs.get(w) ?? []).map(pick));
  const dataset = `${texts.length} WordNet definitions (every ${step}th of ${all.length}), JSONL`;
  const conditions = { dataset, model: 'random weights, all-MiniLM-L6-v2 shape', backend: 'wasm', rounds, method: 'median of alternating rounds' };
  report.table({
    suite: 'embed-command',
    title: `vecforge embed --model (whole command), random-weight all-MiniLM-L6-v2 shape, ${dataset}`,
    columns: ['workers', 'total s', 'start ms', 'run ms', 'texts/s (total)', 'main-thread utilisation in run'],
    rows: [1, 2].map((w) => [w, med(w, (s) => s.seconds), med(w, (s) => s.stages.start.ms), med(w, (s) => s.stages.run.ms), med(w, (s) => s.count / s.seconds), med(w, (s) => s.stages.run.mainThreadUtilization)]),
    note: `A fresh process a run, 1 and 2 workers alternating over ${rounds} round(s), medians; the embed command keeps no embedding cache, so every run embeds every text (goal: whole command 2 workers ≥ 1.8× 1 worker).`,
  });
  report.figure({ suite: 'embed-command', name: 'ratio: neural model, whole command 2 workers / 1 worker (speed-up)', value: med(1, (s) => s.seconds) / med(2, (s) => s.seconds), unit: '×', conditions });
  report.figure({ suite: 'embed-command', name: 'ratio: neural model, command run 2 workers / 1 worker (speed-up)', value: med(1, (s) => s.stages.run.ms) / med(2, (s) => s.stages.run.ms), unit: '×', conditions });
}
