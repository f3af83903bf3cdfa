/**
 * Child process of the model suite's memory figure: starts an engine on a
 * BERT model directory with N workers and the given math, embeds the texts
 * of a JSON array file twice, and prints the peak resident set size of the
 * whole process (main thread and workers) as JSON.
 *
 * argv: --model DIR --workers N --math auto|tfjs --input FILE.json
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Engine } from 'vecforge';

const { values } = parseArgs({ options: { model: { type: 'string' }, workers: { type: 'string' }, math: { type: 'string' }, input: { type: 'string' } } });
const workers = Number(values.workers ?? '1');
const math = values.math === 'tfjs' ? 'tfjs' : 'auto';
const texts = JSON.parse(readFileSync(values.input ?? '', 'utf8')) as string[];
let peak = process.memoryUsage.rss();
const timer = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage.rss());
}, 20);
const engine = await Engine.create({ model: values.model ?? '', workers, math, backend: 'wasm' });
const afterStart = process.memoryUsage.rss();
await engine.embed(texts);
await engine.embed(texts);
peak = Math.max(peak, process.memoryUsage.rss());
clearInterval(timer);
const files = engine.info().modelFiles;
process.stdout.write(`${JSON.stringify({ workers, math: files.math, peakRssBytes: peak, rssAfterStartBytes: afterStart, sharedBytes: files.sharedBytes })}\n`);
await engine.close();
