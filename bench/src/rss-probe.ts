/**
 * Child process of the embed suite's memory figure: starts an engine with
 * N workers, embeds the texts of a JSONL file, and prints the peak resident
 * set size of the whole process (main thread and workers) as JSON.
 *
 * argv: --workers N --input FILE.jsonl --limit N
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Engine } from 'vecforge';

const { values } = parseArgs({ options: { workers: { type: 'string' }, input: { type: 'string' }, limit: { type: 'string' } } });
const workers = Number(values.workers ?? '1');
const limit = Number(values.limit ?? '20000');
const texts = readFileSync(values.input ?? '', 'utf8')
  .split('\n')
  .slice(0, limit)
  .filter((l) => l !== '')
  .map((l) => (JSON.parse(l) as { text: string }).text);
let peak = process.memoryUsage.rss();
const timer = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage.rss());
}, 20);
const engine = await Engine.create({ workers });
const afterStart = process.memoryUsage.rss();
await engine.embed(texts);
await engine.embed(texts);
peak = Math.max(peak, process.memoryUsage.rss());
clearInterval(timer);
process.stdout.write(`${JSON.stringify({ workers, peakRssBytes: peak, rssAfterStartBytes: afterStart, sharedTableBytes: engine.info().modelFiles.sharedBytes })}\n`);
await engine.close();
