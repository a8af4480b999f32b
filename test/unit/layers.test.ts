/**
 * The folders under lib/ form layers: no two import each other, directly or around a longer loop (README
 * "Architecture"). Reads the import and re-export statements of every module; type-only imports count too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const LIB = join(ROOT, 'lib');
const SPECIFIER =
  /(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s*'(\.{1,2}\/[^']+)'|\bimport\s*\(?\s*'(\.{1,2}\/[^']+)'/g;

/** The folder directly below `root` a module belongs to; `.` for the files directly in `root`. */
function folderOf(root: string, file: string): string {
  const parts = relative(root, file).split('/');
  return parts.length === 1 ? '.' : (parts[0] as string);
}

/** Folder (directly below `root`) -> the other folders below `root` its modules import. */
function folderGraph(root = LIB): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    const from = folderOf(root, file);
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const match of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
      const target = resolve(dirname(file), (match[1] ?? match[2]) as string);
      if (relative(root, target).startsWith('..')) continue;
      const to = folderOf(root, target);
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

  it('inside the engine: the stages, apply, calls and ports folders import each other in one direction only', () => {
    // The engine's own files (engine.ts, pass.ts, ...) sit above and between them, so only the sub-folders count.
    const graph = folderGraph(join(LIB, 'sync'));
    graph.delete('.');
    for (const edges of graph.values()) edges.delete('.');
    expect([...graph.keys()].sort()).toEqual(expect.arrayContaining(['apply', 'calls', 'ports', 'stages']));
    expect(cycles(graph)).toEqual([]);
  });

  it('the ports are the contract: they import no other engine module', () => {
    expect([...(folderGraph(join(LIB, 'sync')).get('ports') ?? [])]).toEqual([]);
  });

  it('the composition root: only lib/wiring builds the engine and the real adapters (entry points say what differs)', () => {
    const builds = /\bnew SyncEngine\(|\bcreate(?:SecretsManagerClient|SecretsManagerSource|ConfiguredConnector)\(/;
    const builders: string[] = [];
    for (const folder of ['lib', 'functions', 'bench']) {
      for (const entry of readdirSync(join(ROOT, folder), { recursive: true, withFileTypes: true })) {
        if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
        const file = relative(ROOT, join(entry.parentPath, entry.name));
        // A call, not the adapter's own definition of it.
        const calls = readFileSync(join(ROOT, file), 'utf8')
          .split('\n')
          .filter((line) => builds.test(line) && !/^export (?:async )?function/.test(line));
        if (calls.length > 0) builders.push(file);
      }
    }
    expect(builders).toEqual(['lib/wiring/index.ts']);
  });

  it('the composition root sits on top: no lib/ folder but the CLI imports it', () => {
    const importers = [...folderGraph()].filter(([, edges]) => edges.has('wiring')).map(([folder]) => folder);
    expect(importers).toEqual(['cli']);
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
