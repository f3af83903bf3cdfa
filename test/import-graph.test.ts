/**
 * Guards the module map of DESIGN.md: imports run one way, so there is no
 * cycle between folders of src/ nor between any two files, and a lower layer
 * never imports a higher one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const kRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const kSrc = path.join(kRoot, 'src');

/** Layers from the top of the data flow to the bottom; a file may import its own layer or a lower one. */
const kLayers: readonly (readonly string[])[] = [
  ['cli'],
  ['serve', 'queue'],
  // The public API: the CLI and servers stand on it.
  ['index.ts'],
  ['jobs'],
  ['engine.ts'],
  ['config'],
  ['index'],
  ['pca'],
  ['scheduler'],
  ['models'],
  ['tensor'],
  ['io', 'store', 'native'],
  ['errors.ts', 'random.ts'],
];

function listSources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSources(full));
    else if (/\.(c|m)?ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

const kImport = /(?:^|[\s;])(?:import|export)\s(?:[^'";]*?\sfrom\s)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** Relative imports of each file, resolved to source paths (`.js` → `.ts`). */
function importGraph(files: readonly string[]): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = new Set<string>();
    for (const match of text.matchAll(kImport)) {
      const spec = match[1] ?? match[2];
      if (spec === undefined) continue;
      const resolved = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts').replace(/\.cjs$/, '.cts');
      targets.add(resolved);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** One cycle per strongly connected component of more than one node (Tarjan), or a self-loop. */
function findCycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next += 1;
    stack.push(node);
    onStack.add(node);
    for (const to of graph.get(node) ?? []) {
      if (!graph.has(to)) continue;
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.has(node)) cycles.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return cycles;
}

/** The top-level entry of src/ a file belongs to: its folder, or the file itself. */
function unitOf(file: string): string {
  const rel = path.relative(kSrc, file).split(path.sep);
  return rel[0]!;
}

function layerOf(unit: string): number {
  const found = kLayers.findIndex((layer) => layer.includes(unit));
  if (found < 0) throw new Error(`src/${unit} is in no layer of the module map; add it to kLayers`);
  return found;
}

const kGraph = importGraph(listSources(kSrc));

describe('import graph of src/', () => {
  test('the walk sees the files and their imports', () => {
    expect(kGraph.size).toBeGreaterThan(50);
    expect(kGraph.get(path.join(kSrc, 'index.ts'))?.has(path.join(kSrc, 'engine.ts'))).toBe(true);
  });

  test('no cycle between files', () => {
    expect(findCycles(kGraph).map((c) => c.map((f) => path.relative(kRoot, f)))).toEqual([]);
  });

  test('no cycle between folders', () => {
    const folders = new Map<string, Set<string>>();
    for (const [from, targets] of kGraph) {
      const a = unitOf(from);
      if (!folders.has(a)) folders.set(a, new Set());
      for (const to of targets) {
        const b = unitOf(to);
        if (a !== b) folders.get(a)!.add(b);
      }
    }
    expect(findCycles(folders)).toEqual([]);
  });

  test('imports run down the layers of DESIGN.md', () => {
    const upward: string[] = [];
    for (const [from, targets] of kGraph) {
      for (const to of targets) {
        if (!to.startsWith(kSrc)) continue;
        const a = unitOf(from);
        const b = unitOf(to);
        if (a !== b && layerOf(b) < layerOf(a)) upward.push(`${path.relative(kRoot, from)} → ${path.relative(kRoot, to)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  test('the cycle finder finds a planted cycle', () => {
    const planted = new Map([['a', new Set(['b'])], ['b', new Set(['c'])], ['c', new Set(['a'])], ['d', new Set(['a'])]]);
    expect(findCycles(planted)).toEqual([['a', 'b', 'c']]);
  });
});
