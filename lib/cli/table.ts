/** Plain-text tables: columns two spaces apart, no trailing blanks. The one table printer of the project. */

export interface TableOptions {
  /** Per column; columns without an entry are left-aligned. */
  align?: ReadonlyArray<'left' | 'right'>;
  /** A line of dashes under the header. */
  rule?: boolean;
}

/** Renders a header row and data rows; cells are single-line strings. */
export function renderTable(
  header: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  options: TableOptions = {},
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const pad = (cell: string, i: number) =>
    options.align?.[i] === 'right' ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0);
  const line = (cells: readonly string[]) =>
    widths
      .map((_, i) => pad(cells[i] ?? '', i))
      .join('  ')
      .trimEnd();
  const rule = options.rule === true ? [widths.map((w) => '-'.repeat(w)).join('  ')] : [];
  return [line(header), ...rule, ...rows.map(line)].join('\n');
}
