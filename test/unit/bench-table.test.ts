import { describe, expect, it } from 'vitest';
import { type Column, formatTable } from '../../bench/section.js';

interface Row {
  case: string;
  p50: number;
  done: boolean;
}

const columns: Array<Column<Row>> = [
  { header: 'case', cell: (x) => x.case },
  { header: 'p50', cell: (x) => x.p50 },
  { header: 'all done', cell: (x) => (x.done ? 'yes' : 'NO') },
];

describe('formatTable', () => {
  it('prints a title, the first column left and the others right, numbers to one decimal', () => {
    // Prepare
    const rows: Row[] = [
      { case: 'c1-n1', p50: 81, done: true },
      { case: 'c5-n10', p50: 1666.25, done: false },
      { case: 'c3-n1', p50: Number.NaN, done: true },
    ];

    // Act
    const text = formatTable({ title: 'Rotation, ms', columns, rows });

    // Assess
    expect(text).toBe(
      [
        '',
        'Rotation, ms',
        'case       p50  all done',
        '------  ------  --------',
        'c1-n1       81       yes',
        'c5-n10  1666.3        NO',
        'c3-n1        -       yes',
      ].join('\n'),
    );
  });
});
