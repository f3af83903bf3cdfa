/**
 * model suite (on demand: `npm run bench -- model [--model-texts N]`): a
 * random-weight BERT with the shape of all-MiniLM-L6-v2 on real WordNet
 * definitions. The matmul kernels (native sgemm vs TF.js wasm) on the
 * encoder's shapes; the forward pass alone, native and TF.js, in GFLOP/s
 * next to the native kernel; padding efficiency with and without length
 * sorting; the engine on 1 and 2 workers; the naive one-call-per-text
 * pattern; RSS with 1 and 2 workers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from 'vecforge';
import { kMiniLmShape, miniLmBenchSet } from '../data/minilm-random.js';
import { BertEncoder, encoderFlops, findBertFiles, kMaxAttentionFloats, kMaxPackedTokens, kMaxPaddedTokens, loadBertWeights, loadNativeBertOps, loadTf, NativeBertEncoder, parseBertConfig, readVocabTokenizer, WordPieceTokenizer } from '../internals.js';
import { median } from '../measure.js';
import type { Report } from '../report/report.js';
import type { SuiteContext } from './suite.js';

const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

/** CPU seconds of the whole process (main thread and workers) per function, medians, from the last {@link alternate} call. */
let gLastCpuSeconds: number[] = [];

/**
 * Median seconds of `rounds` calls of each function, the functions
 * alternating (ABBA), after one warm-up call each unless `warm` is false.
 * The process's CPU seconds of the same calls land in gLastCpuSeconds.
 */
async function alternate(fns: ReadonlyArray<() => unknown>, rounds: number, warm = true): Promise<number[]> {
  const seconds = fns.map((): number[] => []);
  const cpu = fns.map((): number[] => []);
  if (warm) for (const fn of fns) await fn();
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? fns.map((_, i) => i) : fns.map((_, i) => fns.length - 1 - i);
    for (const i of order) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await fns[i]?.();
      seconds[i]?.push((performance.now() - t0) / 1000);
      const c = process.cpuUsage(c0);
      cpu[i]?.push((c.user + c.system) / 1e6);
    }
  }
  gLastCpuSeconds = cpu.map((xs) => median(xs));
  return seconds.map((xs) => median(xs));
}

/** A cut of texts into runs: item indexes per run. */
type Runs = number[][];

/** The TF.js kernel's cut: longest first when sorted, then runs within the padded-token and attention budgets. */
function paddedRuns(lengths: readonly number[], sorted: boolean): Runs {
  const order = lengths.map((_, i) => i);
  if (sorted) order.sort((a, b) => (lengths[b] as number) - (lengths[a] as number) || a - b);
  const runs: Runs = [];
  for (let start = 0; start < order.length; ) {
    let seq = lengths[order[start] as number] as number;
    let end = start + 1;
    for (; end < order.length; end++) {
      const s = Math.max(seq, lengths[order[end] as number] as number);
      if ((end - start + 1) * s > kMaxPaddedTokens || (end - start + 1) * kMiniLmShape.heads * s * s > kMaxAttentionFloats) break;
      seq = s;
    }
    runs.push(order.slice(start, end));
    start = end;
  }
  return runs;
}

/** The native kernel's cut: input order, packed up to kMaxPackedTokens real tokens. */
function packedRuns(lengths: readonly number[]): Runs {
  const runs: Runs = [];
  let run: number[] = [];
  let tokens = 0;
  lengths.forEach((len, i) => {
    if (run.length > 0 && tokens + len > kMaxPackedTokens) {
      runs.push(run);
      run = [];
      tokens = 0;
    }
    run.push(i);
    tokens += len;
  });
  if (run.length > 0) runs.push(run);
  return runs;
}

/**
 * Runs the model figures.
 * @param report - receives tables and figures.
 * @param ctx - suite context (quick mode, data dir, text count).
 */
export async function runModelSuite(report: Report, ctx: SuiteContext): Promise<void> {
  const count = ctx.modelTexts ?? (ctx.quick ? 300 : 2_000);
  const { model, all, texts, step } = await miniLmBenchSet(ctx.dataDir, count);
  const files = findBertFiles(model.dir);
  const config = parseBertConfig(files.config);
  const tokenizer = new WordPieceTokenizer(readVocabTokenizer(join(model.dir, 'vocab.txt'), join(model.dir, 'tokenizer_config.json')));
  const encodings = texts.map((t) => tokenizer.encode(t, kMiniLmShape.maxSeqLength));
  const lengths = encodings.map((e) => e.ids.length);
  const realTokens = lengths.reduce((a, b) => a + b, 0);
  const dataset = `${texts.length} WordNet definitions (every ${step}th of ${all.length}), ${realTokens} tokens, ${(realTokens / texts.length).toFixed(1)} per text with [CLS]/[SEP], longest ${Math.max(...lengths)}`;
  const modelDesc = 'random weights, all-MiniLM-L6-v2 shape (6 layers, hidden 384, 12 heads, FFN 1536, vocab 30,522 of real words)';
  process.stdout.write(`model: ${model.dir} (${model.reused ? 'reused' : 'written'})\n${dataset}\nload average at start: ${load()}\n`);
  const conditions = { dataset, model: modelDesc, backend: 'wasm', threadsPerWorker: 1 };

  // 1. The matmul kernels on the encoder's shapes, one thread, same inputs.
  const ops = loadNativeBertOps();
  if (ops === undefined) throw new Error('the model suite needs the native addon (node native/build.mjs)');
  const tf = await loadTf('wasm');
  const m = kMaxPackedTokens;
  const h = kMiniLmShape.hidden;
  const f = kMiniLmShape.ffn;
  const shapes: Array<[string, number, number, number, number]> = [
    ['Q, K, V, output projections', m, h, h, 4],
    ['FFN in', m, h, f, 1],
    ['FFN out', m, f, h, 1],
  ];
  const fill = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) * 0.1);
  const kernelRows: Array<Array<string | number>> = [];
  let layerFlops = 0;
  let nativeLayerS = 0;
  let tfLayerS = 0;
  const reps = ctx.quick ? 3 : 10;
  for (const [name, rows, k, n, times] of shapes) {
    const x = fill(rows * k);
    const w = fill(n * k);
    const b = fill(n);
    const out = new Float32Array(rows * n);
    const tx = tf.tensor2d(x, [rows, k]);
    // TF.js gets the weight pre-transposed ([in, out]), as the TF.js forward pass keeps it.
    const tw = tf.tensor2d(fill(k * n), [k, n]);
    const [nativeS, tfS] = await alternate(
      [
        () => {
          for (let r = 0; r < reps; r++) ops.linearRows(x, w, b, out, 0);
        },
        () => {
          for (let r = 0; r < reps; r++) {
            const y = tf.matMul(tx, tw);
            y.dataSync();
            y.dispose();
          }
        },
      ],
      ctx.quick ? 2 : 4,
    );
    tx.dispose();
    tw.dispose();
    const flops = 2 * rows * k * n * reps;
    layerFlops += flops * times;
    nativeLayerS += (nativeS as number) * times;
    tfLayerS += (tfS as number) * times;
    kernelRows.push([`${name}: [${rows}×${k}]·[${k}×${n}]`, flops / (nativeS as number) / 1e9, flops / (tfS as number) / 1e9, (tfS as number) / (nativeS as number)]);
  }
  const nativeKernelGflops = layerFlops / nativeLayerS / 1e9;
  const tfKernelGflops = layerFlops / tfLayerS / 1e9;
  kernelRows.push(['one layer\'s projections and FFN (FLOP-weighted)', nativeKernelGflops, tfKernelGflops, tfLayerS / nativeLayerS]);
  report.table({
    suite: 'model',
    title: 'matmul kernels on the encoder\'s shapes, one thread',
    columns: ['shape', 'native sgemm GFLOP/s', 'TF.js wasm matMul GFLOP/s', 'native / TF.js'],
    rows: kernelRows,
    note: `Native: the addon's linearRows (sgemm.h, weight [out, in] read in place, bias added). TF.js: tf.matMul on the wasm backend with the weight pre-transposed ([in, out], its fast case), dataSync included. ${m} rows (one native run's token budget). Alternating rounds, medians. Load average: ${load()}.`,
  });
  report.figure({ suite: 'model', name: 'GFLOP/s: native sgemm, encoder layer shapes', value: nativeKernelGflops, unit: 'GFLOP/s', conditions });
  report.figure({ suite: 'model', name: 'GFLOP/s: TF.js wasm matMul, encoder layer shapes', value: tfKernelGflops, unit: 'GFLOP/s', conditions });

  // 2. The forward pass alone on this thread: native (packed) and TF.js (padded, sorted as its kernel cuts).
  const weights = loadBertWeights(files.weights, config);
  const nativeEncoder = new NativeBertEncoder(ops, config, weights.buffer, weights.slots);
  const tfEncoder = new BertEncoder(tf, config, weights.buffer, weights.slots);
  const fwdTexts = Math.min(lengths.length, 300);
  const fwdLengths = lengths.slice(0, fwdTexts);
  const packed = packedRuns(fwdLengths);
  const sortedRuns = paddedRuns(fwdLengths, true);
  const unsortedRuns = paddedRuns(fwdLengths, false);
  const runNative = (): void => {
    for (const run of packed) {
      const ls = Int32Array.from(run, (i) => lengths[i] as number);
      const ids = new Int32Array(ls.reduce((a, b) => a + b, 0));
      let at = 0;
      for (const i of run) {
        ids.set(encodings[i]?.ids ?? [], at);
        at += lengths[i] as number;
      }
      nativeEncoder.run(ids, ls);
    }
  };
  const runPadded = (runs: Runs) => (): void => {
    for (const run of runs) {
      const seq = Math.max(...run.map((i) => lengths[i] as number));
      const ids = new Int32Array(run.length * seq);
      run.forEach((i, r) => {
        ids.set(encodings[i]?.ids ?? [], r * seq);
      });
      tfEncoder.run(ids, Int32Array.from(run, (i) => lengths[i] as number), seq);
    }
  };
  const padded = (runs: Runs): number => runs.reduce((a, run) => a + run.length * Math.max(...run.map((i) => lengths[i] as number)), 0);
  const fwdReal = fwdLengths.reduce((a, b) => a + b, 0);
  // The encoder's matmuls alone at one packed run's size, in the same alternating rounds: the kernel side of the ratio.
  const kx = fill(m * f);
  const kout = new Float32Array(m * f);
  const kw = fill(f * h);
  const kb = fill(f);
  const runKernel = (): void => {
    for (let l = 0; l < kMiniLmShape.layers; l++) {
      for (let p = 0; p < 4; p++) ops.linearRows(kx.subarray(0, m * h), kw.subarray(0, h * h), kb.subarray(0, h), kout.subarray(0, m * h), 0);
      ops.linearRows(kx.subarray(0, m * h), kw, kb, kout, 0);
      ops.linearRows(kx, kw, kb.subarray(0, h), kout.subarray(0, m * h), 0);
    }
  };
  const kernelRunFlops = kMiniLmShape.layers * m * 2 * (4 * h * h + 2 * h * f);
  const [nativeFwdS, tfSortedS, tfUnsortedS, kernelS] = (await alternate([runNative, runPadded(sortedRuns), runPadded(unsortedRuns), runKernel], ctx.quick ? 1 : 2)) as [number, number, number, number];
  const sameRoundKernelGflops = kernelRunFlops / kernelS / 1e9;
  const usefulFlops = encoderFlops(config, fwdLengths);
  const computedFlops = (runs: Runs): number => runs.reduce((a, run) => a + encoderFlops(config, run.map(() => 0), Math.max(...run.map((i) => lengths[i] as number))), 0);
  const fwdRows: Array<Array<string | number>> = [
    ['native, packed (no padding)', fwdReal, 1, fwdTexts / nativeFwdS, fwdReal / nativeFwdS, usefulFlops / nativeFwdS / 1e9, usefulFlops / nativeFwdS / 1e9],
    ['TF.js, padded, sorted by length', padded(sortedRuns), fwdReal / padded(sortedRuns), fwdTexts / tfSortedS, fwdReal / tfSortedS, usefulFlops / tfSortedS / 1e9, computedFlops(sortedRuns) / tfSortedS / 1e9],
    ['TF.js, padded, input order', padded(unsortedRuns), fwdReal / padded(unsortedRuns), fwdTexts / tfUnsortedS, fwdReal / tfUnsortedS, usefulFlops / tfUnsortedS / 1e9, computedFlops(unsortedRuns) / tfUnsortedS / 1e9],
  ];
  const fwdRatio = usefulFlops / nativeFwdS / 1e9 / sameRoundKernelGflops;
  report.table({
    suite: 'model',
    title: `forward pass alone, one thread, ${fwdTexts} texts`,
    columns: ['path', 'computed tokens', 'padding efficiency (real / computed)', 'texts/s', 'real tokens/s', 'GFLOP/s (useful)', 'GFLOP/s (computed)'],
    rows: fwdRows,
    note: `FLOPs counted per layer: Q, K, V, output projections and the FFN (2·(4h² + 2h·FFN) a token) plus QKᵀ and PV (4·len²·h a sequence); useful counts real tokens, computed counts what each path runs (padded for TF.js). Embedding sum and LayerNorm, GELU, softmax are inside the time but not counted. Native kernel on the encoder's matmuls at ${m} rows, timed in the same alternating rounds: ${sameRoundKernelGflops.toFixed(1)} GFLOP/s; native forward / native kernel = ${fwdRatio.toFixed(2)} (goal ≥ 0.5). Load average: ${load()}.`,
  });
  report.figure({ suite: 'model', name: 'GFLOP/s: native forward pass', value: usefulFlops / nativeFwdS / 1e9, unit: 'GFLOP/s', conditions });
  report.figure({ suite: 'model', name: 'GFLOP/s: native kernel, same rounds as the forward pass', value: sameRoundKernelGflops, unit: 'GFLOP/s', conditions });
  report.figure({ suite: 'model', name: 'ratio: native forward pass / native kernel GFLOP/s', value: fwdRatio, unit: '×', conditions });
  report.figure({ suite: 'model', name: 'ratio: native forward / TF.js forward (sorted), texts/s', value: tfSortedS / nativeFwdS, unit: '×', conditions });
  const effSorted = realTokens / padded(paddedRuns(lengths, true));
  const effUnsorted = realTokens / padded(paddedRuns(lengths, false));
  report.figure({ suite: 'model', name: 'padding efficiency: TF.js cut, sorted', value: effSorted, unit: 'real/computed', conditions });
  report.figure({ suite: 'model', name: 'padding efficiency: TF.js cut, input order', value: effUnsorted, unit: 'real/computed', conditions });

  // 3. The engine: native math on 1 and 2 workers, alternating; TF.js math on a subset.
  // A run over 20,000 texts or more lasts minutes a side, long enough to average the machine's drift itself: one round then.
  const rounds = ctx.quick || texts.length >= 20_000 ? 1 : 2;
  const one = await Engine.create({ model: model.dir, workers: 1, backend: 'wasm' });
  const two = await Engine.create({ model: model.dir, workers: 2, backend: 'wasm' });
  const tfTexts = texts.slice(0, Math.max(1, Math.min(500, Math.floor(texts.length / 4))));
  const tfTokens = lengths.slice(0, tfTexts.length).reduce((a, b) => a + b, 0);
  const naive = texts.slice(0, ctx.quick ? 50 : 200);
  const naiveTokens = lengths.slice(0, naive.length).reduce((a, b) => a + b, 0);
  let engineRows: Array<Array<string | number>>;
  let scaling: number;
  let coresUsed: [number, number];
  let cpuPerText: [number, number];
  try {
    // Warm-up on a slice: workers started, first-call costs paid.
    await one.embed(texts.slice(0, 64));
    await two.embed(texts.slice(0, 64));
    const [oneS, twoS] = (await alternate([() => one.embed(texts), () => two.embed(texts)], rounds, false)) as [number, number];
    const [oneCpu, twoCpu] = gLastCpuSeconds as [number, number];
    scaling = oneS / twoS;
    coresUsed = [oneCpu / oneS, twoCpu / twoS];
    cpuPerText = [oneCpu / texts.length, twoCpu / texts.length];
    const [naiveS, batchS] = (await alternate(
      [
        async () => {
          for (const t of naive) await two.embed([t]);
        },
        () => two.embed(naive),
      ],
      rounds,
      false,
    )) as [number, number];
    engineRows = [
      ['native, 1 worker', texts.length, texts.length / oneS, realTokens / oneS, encoderFlops(config, lengths) / oneS / 1e9],
      ['native, 2 workers', texts.length, texts.length / twoS, realTokens / twoS, encoderFlops(config, lengths) / twoS / 1e9],
      ['native, 2 workers, one awaited embed([text]) per text', naive.length, naive.length / naiveS, naiveTokens / naiveS, encoderFlops(config, lengths.slice(0, naive.length)) / naiveS / 1e9],
      ['native, 2 workers, the same texts in one embed call', naive.length, naive.length / batchS, naiveTokens / batchS, encoderFlops(config, lengths.slice(0, naive.length)) / batchS / 1e9],
    ];
    const tfOne = await Engine.create({ model: model.dir, workers: 1, backend: 'wasm', math: 'tfjs' });
    try {
      await tfOne.embed(texts.slice(0, 16));
      const [tfS, nS] = (await alternate([() => tfOne.embed(tfTexts), () => one.embed(tfTexts)], 1, false)) as [number, number];
      engineRows.push([`TF.js math, 1 worker (first ${tfTexts.length} texts)`, tfTexts.length, tfTexts.length / tfS, tfTokens / tfS, encoderFlops(config, lengths.slice(0, tfTexts.length)) / tfS / 1e9]);
      engineRows.push([`native, 1 worker, the same ${tfTexts.length} texts`, tfTexts.length, tfTexts.length / nS, tfTokens / nS, encoderFlops(config, lengths.slice(0, tfTexts.length)) / nS / 1e9]);
    } finally {
      await tfOne.close();
    }
  } finally {
    await one.close();
    await two.close();
  }
  report.table({
    suite: 'model',
    title: `the engine, ${modelDesc}`,
    columns: ['pattern', 'texts', 'texts/s', 'tokens/s', 'GFLOP/s (useful)'],
    rows: engineRows,
    note: `${dataset}. engine.embed over every text; 1 and 2 workers alternate over ${rounds} round(s), medians; 2 workers / 1 worker = ${scaling.toFixed(2)}× (goal ≥ 1.8×). CPU cores the process got (CPU seconds of main + workers / wall seconds): ${coresUsed[0].toFixed(2)} with 1 worker, ${coresUsed[1].toFixed(2)} with 2; CPU ms per text: ${(cpuPerText[0] * 1000).toFixed(2)} and ${(cpuPerText[1] * 1000).toFixed(2)} (equal CPU per text means the 2-worker run does no extra work: on free cores the ratio would follow the cores it gets). Tokenising, scheduling and pooling are inside the time. Load average: ${load()}.`,
  });
  report.figure({ suite: 'model', name: 'cores used: 1 worker', value: coresUsed[0], unit: 'CPU s / wall s', conditions });
  report.figure({ suite: 'model', name: 'cores used: 2 workers', value: coresUsed[1], unit: 'CPU s / wall s', conditions });
  report.figure({ suite: 'model', name: 'ratio: CPU per text, 2 workers / 1 worker', value: cpuPerText[1] / cpuPerText[0], unit: '×', conditions });
  report.figure({ suite: 'model', name: 'ratio: 2 workers / 1 worker, texts/s', value: scaling, unit: '×', conditions: { ...conditions, rounds } });
  for (const row of engineRows) report.figure({ suite: 'model', name: `texts/s: ${row[0]}`, value: row[2] as number, unit: 'texts/s', conditions });

  // 4. Memory: a fresh process per row.
  const tmp = mkdtempSync(join(tmpdir(), 'vecforge-model-rss-'));
  try {
    const input = join(tmp, 'texts.json');
    writeFileSync(input, JSON.stringify(texts.slice(0, 200)));
    const probe = fileURLToPath(new URL('../model-rss-probe.js', import.meta.url));
    const measure = (workers: number, math: string): { peakRssBytes: number; rssAfterStartBytes: number; sharedBytes: number; math: string } =>
      JSON.parse(execFileSync(process.execPath, [probe, '--model', model.dir, '--workers', String(workers), '--math', math, '--input', input], { encoding: 'utf8' }).trim()) as never;
    const mib = (b: number): number => b / 2 ** 20;
    const rows: Array<Array<string | number>> = [];
    for (const math of ['auto', 'tfjs']) {
      const a = measure(1, math);
      const b = measure(2, math);
      rows.push([a.math, 1, mib(a.rssAfterStartBytes), mib(a.peakRssBytes), mib(a.sharedBytes), 1]);
      rows.push([b.math, 2, mib(b.rssAfterStartBytes), mib(b.peakRssBytes), mib(b.sharedBytes), b.peakRssBytes / a.peakRssBytes]);
      report.figure({ suite: 'model', name: `ratio: peak RSS 2 workers / 1 worker, ${math === 'auto' ? 'native' : 'tfjs'} math`, value: b.peakRssBytes / a.peakRssBytes, unit: '×', conditions });
    }
    report.table({
      suite: 'model',
      title: 'resident memory of the whole process (main + workers)',
      columns: ['math', 'workers', 'RSS after start (MiB)', 'peak RSS (MiB)', 'shared weights (MiB)', 'peak / 1 worker'],
      rows,
      note: `Each row is a fresh process embedding 200 definitions twice; RSS sampled every 20 ms (goal: 2 workers ≤ 1.3× 1 worker). Load average: ${load()}.`,
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
