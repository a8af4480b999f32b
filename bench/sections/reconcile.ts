/** Reconcile over 100 and 1000 bindings: nothing changed, and with 10% of the Secrets edited beforehand. */
import { loadConfigFile } from '../../lib/config/index.js';
import { reconcileRequest } from '../../lib/events/index.js';
import {
  type CallCounts,
  type Counted,
  type CountedRun,
  counted,
  countedEngine,
  failures,
  kubeCountColumns,
} from '../engine.js';
import { RECONCILE_CASES } from '../fixtures.js';
import type { Column, Section } from '../section.js';
import { driftSecrets } from '../stack.js';
import { type Timing, timing } from '../stats.js';

export interface ReconcileRow {
  bindings: number;
  scenario: 'first pass' | 'unchanged' | 'drift 10%';
  duration: Timing;
  drifted: number;
  repaired: number;
  cpuMs: number;
  openSockets: number;
  counts: CallCounts;
}

export const columns: Array<Column<ReconcileRow>> = [
  { header: 'bindings', cell: (x) => String(x.bindings) },
  { header: 'scenario', cell: (x) => x.scenario },
  { header: 'p50', cell: (x) => x.duration.p50 },
  { header: 'max', cell: (x) => x.duration.max },
  { header: 'repaired', cell: (x) => x.repaired },
  { header: 'SM calls', cell: (x) => x.counts.secretsManager.total },
  { header: 'SM reads', cell: (x) => x.counts.secretsManager.valueReads },
  ...kubeCountColumns<ReconcileRow>(),
  { header: 'open sockets', cell: (x) => x.openSockets },
];

/** Durations over the runs; counts from the last run (they are the same for every run of a scenario). */
function summarise(
  bindings: number,
  scenario: ReconcileRow['scenario'],
  runs: CountedRun[],
  drifted: number,
): ReconcileRow {
  const last = runs.at(-1) as CountedRun;
  return {
    bindings,
    scenario,
    duration: timing(runs.map((r) => r.ms)),
    drifted,
    repaired: last.report.results.filter((r) => r.drift).length,
    cpuMs: timing(runs.map((r) => r.cpuMs)).p50,
    openSockets: last.openSockets,
    counts: last.counts,
  };
}

export const reconcile: Section<ReconcileRow[]> = {
  key: 'reconcile',
  title: (o) => `reconcile over 100 and 1000 bindings (${o.reconcileIterations} runs each)`,
  async run({ options, admins, files, http }) {
    const iterations = options.reconcileIterations;
    const rows: ReconcileRow[] = [];
    for (const rc of RECONCILE_CASES) {
      const config = await loadConfigFile(files[`reconcile-${rc.bindings}`] as string);
      const run = async (c: Counted) => {
        const out = await counted(c, http, reconcileRequest({ origin: 'bench' }));
        const problems = failures(out.report);
        if (problems.length > 0) throw new Error(`reconcile ${rc.bindings} failed: ${problems[0]}`);
        if (out.report.results.length !== rc.bindings) {
          throw new Error(`reconcile ${rc.bindings}: planned ${out.report.results.length} bindings`);
        }
        return out;
      };
      const shipped = countedEngine(config);
      const first = await run(shipped);
      const results = first.report.results;
      const unchanged: CountedRun[] = [];
      // A first pass that repaired nothing is already an unchanged pass (the setup is reused across bench runs).
      if (first.report.results.some((r) => r.drift)) rows.push(summarise(rc.bindings, 'first pass', [first], 0));
      else unchanged.push(first);
      while (unchanged.length < iterations) unchanged.push(await run(shipped));
      rows.push(summarise(rc.bindings, 'unchanged', unchanged, 0));

      const drifted: CountedRun[] = [];
      let driftCount = 0;
      for (let i = 0; i < iterations; i++) {
        const targets = results.filter((_, index) => index % 10 === i % 10);
        driftCount = targets.length;
        await Promise.all(
          admins.map((admin) =>
            driftSecrets(
              admin,
              targets
                .filter((t) => t.cluster === admin.cluster)
                .map((t) => ({ namespace: t.namespace, name: t.secret })),
            ),
          ),
        );
        const out = await run(shipped);
        const repaired = out.report.results.filter((r) => r.action === 'updated').length;
        if (repaired !== driftCount) {
          throw new Error(`reconcile ${rc.bindings}: drifted ${driftCount}, repaired ${repaired}`);
        }
        drifted.push(out);
      }
      rows.push(summarise(rc.bindings, 'drift 10%', drifted, driftCount));

      const p50 = (scenario: ReconcileRow['scenario']) =>
        rows.find((r) => r.bindings === rc.bindings && r.scenario === scenario)?.duration.p50;
      console.log(`  ${rc.bindings} bindings: unchanged p50 ${p50('unchanged')} ms, drift p50 ${p50('drift 10%')} ms`);
    }
    return rows;
  },
  tables(rows) {
    const commands = new Set(rows.map((x) => JSON.stringify(x.counts.secretsManager.commands)));
    return [
      { title: 'Reconcile (engine, real adapters), ms', columns, rows },
      `  Secrets Manager commands per reconcile pass: ${[...commands].join(' | ')}`,
    ];
  },
};
