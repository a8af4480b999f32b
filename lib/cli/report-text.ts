/**
 * The parts every human report of the CLI is made of (the pass's diff table and `status`): the bindings table or
 * the line saying nothing matched, titled blocks of indented lines, and the failed source lookups no row shows.
 */
import { renderTable } from './table.js';

interface SourceLookup {
  id: string;
  error?: { code: string; message: string };
}

/** The table of `rows` under `header`, or the line saying that nothing in the configuration matched. */
export function bindingsTable<R>(rows: readonly R[], header: readonly string[], cells: (row: R) => string[]): string {
  if (rows.length === 0) return 'No bindings: nothing in the configuration matches this request.';
  return renderTable(header, rows.map(cells));
}

/** A blank line, `title:` and the items indented; nothing when there are no items. */
export function block(title: string, items: readonly string[]): string[] {
  return items.length === 0 ? [] : ['', `${title}:`, ...items.map((item) => `  ${item}`)];
}

/** Source lookups that failed without a row of `rows` to show it (e.g. a selector whose ListSecrets was refused). */
export function unshownSourceFailures(
  sources: readonly SourceLookup[],
  rows: ReadonlyArray<{ source: string }>,
): string[] {
  return sources
    .filter((s) => s.error !== undefined && !rows.some((r) => r.source === s.id))
    .map((s) => `source "${s.id}": ${s.error?.code}: ${s.error?.message}`);
}
