/** Plain-text tables: left-aligned columns, two spaces apart, no trailing blanks. */

/** Renders a header row and data rows; cells are single-line strings. */
export function renderTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    widths
      .map((w, i) => (cells[i] ?? '').padEnd(w))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
