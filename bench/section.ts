/**
 * The shape of a benchmark section (bench/sections/*.ts): a key for `--only` and bench/results/latest.json, a
 * title, a run over the shared stack, and the tables it prints once every section ran.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { renderTable } from '../lib/cli/table.js';
import type { HttpCounter } from './counting.js';
import type { ConfigFiles, Fanout } from './fixtures.js';
import type { AdminApis, StackEnv } from './stack.js';

export interface Options {
  /** Timed rotations per case (at least 10). */
  iterations: number;
  fanoutIterations: number;
  reconcileIterations: number;
}

/** What every section runs against: the seeded stack, its configuration files and the HTTP counter. */
export interface Bench {
  options: Options;
  stack: StackEnv;
  admins: AdminApis[];
  sm: SecretsManagerClient;
  http: HttpCounter;
  files: ConfigFiles;
  /** Waits until the consumers of a fan-out case are at rest (untimed; stragglers are counted for latest.json). */
  settle(c: Fanout): Promise<void>;
}

export interface Column<Row> {
  header: string;
  cell: (row: Row) => string | number;
}

export interface Table<Row> {
  title: string;
  columns: ReadonlyArray<Column<Row>>;
  rows: readonly Row[];
}

/** A table, or a plain line printed as it is. */
// biome-ignore lint/suspicious/noExplicitAny: a section prints tables of several row types.
export type Output = Table<any> | string;

export interface Section<Result> {
  key: string;
  /** `false` for sections over in-memory clusters only: `--only` with nothing else runs them without the stack. */
  stack?: boolean;
  title: (options: Options) => string;
  /** Logs progress lines; the result goes to latest.json under `key`. */
  run: (bench: Bench) => Promise<Result>;
  /** The tables (and notes) printed for the result. */
  tables: (result: Result) => Output[];
}

/** A table spec as text: a title line, then the first column left-aligned and numbers right-aligned. */
export function formatTable<Row>({ title, columns, rows }: Table<Row>): string {
  const cells = rows.map((row) => columns.map((c) => formatCell(c.cell(row))));
  const align = columns.map((_, i): 'left' | 'right' => (i === 0 ? 'left' : 'right'));
  return `\n${title}\n${renderTable(
    columns.map((c) => c.header),
    cells,
    { align, rule: true },
  )}`;
}

function formatCell(cell: string | number): string {
  if (typeof cell === 'string') return cell;
  if (Number.isNaN(cell)) return '-';
  return Number.isInteger(cell) ? String(cell) : cell.toFixed(1);
}
