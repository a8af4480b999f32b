/**
 * The update stage: the planned bindings' values read (or their deletion confirmed), applied in waves, and what
 * was written checked against the secret's current version (`settle`).
 */
import { releaseHint } from '../hold.js';
import type { Pass } from '../pass.js';
import { type Binding, planBindings } from '../plan.js';
import type { BindingResult, WaveProgress } from '../types.js';
import { confirmDeleted, fetchValues, goneReads, type Reads } from './fetch.js';
import { bindingKey, type SourceEntry } from './report.js';
import type { Resolved } from './resolve.js';
import { settle } from './settle.js';
import { applyInWaves } from './waves.js';

/** What the stage adds to the report: the bindings' results, the versions read, its notes and the waves' progress. */
export interface Updated {
  results: BindingResult[];
  sources: SourceEntry[];
  notes: string[];
  waves: WaveProgress[];
}

/**
 * In: the bindings this pass writes (conflicts and peers already taken out), the secrets as resolved, and the
 * source entries so far (the version check reads and amends them). Out: everything the report gains; each result
 * is logged once as it is decided, and again when the version check changed it.
 */
export async function updateBindings(
  pass: Pass,
  bindings: Binding[],
  resolved: Resolved,
  sourcesSoFar: SourceEntry[],
  pinned: ReadonlyMap<string, string> | undefined,
): Promise<Updated> {
  const { request, log } = pass;
  const confirmed = request.deleted ? await confirmDeleted(pass, bindings) : { bindings, results: [] };
  const sources = [...sourcesSoFar];
  const notes: string[] = [];
  let reads: Reads;
  if (request.deleted) {
    reads = goneReads(confirmed.bindings);
  } else {
    const fetched = await fetchValues(pass, bindings, resolved.announced, pinned);
    reads = fetched;
    sources.push(...fetched.sources);
    notes.push(...fetched.notes);
  }
  for (const result of confirmed.results) log.result?.(result);
  // A deletion follows the deletion policy everywhere at once: there is no new version to gate.
  const waved = await applyInWaves(
    pass,
    request.deleted ? confirmed.bindings.map(withoutWave) : confirmed.bindings,
    reads,
    request.deleted ? [] : gateBindings(pass, resolved),
  );
  let results = [...confirmed.results, ...waved.results];
  notes.push(...waved.notes);
  for (const p of waved.progress) {
    // The report names the bad version; Secrets Manager is not touched (its rotation owner decides).
    const version = `version ${p.versionId ?? 'unknown'} of "${p.arn ?? p.source}"`;
    if (p.state === 'failed') {
      const held =
        p.hold === undefined
          ? ''
          : `; the version is held${p.hold.policy === 'rollback' ? ` and wave ${p.wave} rolled back` : ''}, ${releaseHint(p.source)}`;
      notes.push(`${version} halted at wave ${p.wave} of ${p.of}: ${p.reason}${held}`);
    }
    if (p.state === 'held') notes.push(`${version} is held: ${p.reason}; ${releaseHint(p.source)}`);
  }
  if (request.deleted || request.dryRun) return { results, sources, notes, waves: waved.progress };
  const reported = new Map(results.map((r) => [bindingKey(r), JSON.stringify(r)]));
  // Only what was applied: a binding waiting for its wave is not written by the version check either.
  const settled = await settle(pass, waved.applied, reads, { results, sources, notes: [] }, resolved.announced);
  results = settled.results;
  // Bindings the version check changed (re-applied, or failed) are reported again.
  for (const r of results) if (reported.get(bindingKey(r)) !== JSON.stringify(r)) log.result?.(r);
  return { results, sources: settled.sources, notes: [...notes, ...settled.notes], waves: waved.progress };
}

/**
 * The bindings with waves that the request's cluster and namespace filters left out: a backfill of a later wave's
 * cluster still waits for the earlier waves (and their hold), so they are planned to be read, not written.
 */
function gateBindings(pass: Pass, resolved: Resolved): Binding[] {
  const { clusters, namespaces, ...unfiltered } = pass.request;
  if (clusters === undefined && namespaces === undefined) return [];
  return planBindings(pass.config, resolved.resolved, unfiltered).filter((b) => b.wave !== undefined);
}

function withoutWave(binding: Binding): Binding {
  const { wave: _wave, ...rest } = binding;
  return rest;
}
