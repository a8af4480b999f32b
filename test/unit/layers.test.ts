/**
 * The folders under lib/ form layers: no two import each other, directly or around a longer loop (README
 * "Architecture"). Reads the import and re-export statements of every module; type-only imports count too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LIB = resolve(dirname(fileURLToPath(import.meta.url)), '../../lib');
const SPECIFIER =
  /(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s*'(\.{1,2}\/[^']+)'|\bimport\s*\(?\s*'(\.{1,2}\/[^']+)'/g;

/** The top-level folder of lib/ a module belongs to; `.` for the files directly in lib/ (errors, timeouts). */
function folderOf(file: string): string {
  const parts = relative(LIB, file).split('/');
  return parts.length === 1 ? '.' : (parts[0] as string);
}

/** Folder -> the other folders its modules import. */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const entry of readdirSync(LIB, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    const from = folderOf(file);
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const match of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
      const target = resolve(dirname(file), (match[1] ?? match[2]) as string);
      if (relative(LIB, target).startsWith('..')) continue;
      const to = folderOf(target);
      if (to !== from) edges.add(to);
    }
  }
  return graph;
}

/** Every loop of folder imports, each as `a -> b -> a`. */
function cycles(graph: Map<string, Set<string>>): string[] {
  const found = new Set<string>();
  const visit = (path: string[]) => {
    for (const next of graph.get(path.at(-1) as string) ?? []) {
      if (next === path[0]) found.add([...path, next].join(' -> '));
      // Each loop is reported once, from its alphabetically first folder.
      else if (!path.includes(next) && next > (path[0] as string)) visit([...path, next]);
    }
  };
  for (const folder of [...graph.keys()].sort()) visit([folder]);
  return [...found];
}

describe('lib/ folders', () => {
  it('import each other in one direction only', () => {
    expect(cycles(folderGraph())).toEqual([]);
  });

  it('are named for what they hold, not like a build output', () => {
    const folders = readdirSync(LIB, { withFileTypes: true }).filter((e) => e.isDirectory());
    const names = folders.map((e) => e.name);
    expect(names.filter((name) => ['target', 'build', 'dist', 'out', 'bin'].includes(name))).toEqual([]);
  });

  it('finds a loop when there is one (the check itself)', () => {
    const graph = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
      ['d', new Set(['a'])],
    ]);
    expect(cycles(graph)).toEqual(['a -> b -> c -> a']);
  });
});
