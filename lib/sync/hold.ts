/**
 * The hold of a version after a failed wave (README "Waves: rollback, hold and release"). It lives in one annotation
 * on each Secret of the sync's first wave, which every pass over the sync reads before writing anything: no store of
 * our own, nothing installed in the clusters. It names ids, indexes, a time and the reason (names only, never a
 * value).
 */
import { HOLD_ANNOTATION } from '../domain/names.js';

export interface Hold {
  /** The version held: no pass writes it to any wave of the sync until it is released or superseded. */
  versionId: string;
  /** Index of the sync in `syncs`. */
  sync: number;
  /** 1-based: the wave that failed, of `of`. */
  wave: number;
  of: number;
  /** What was done with the failed wave: rolled back to the previous version, or left for a person. */
  policy: 'halt' | 'rollback';
  /** When the wave was found failed (RFC 3339). */
  since: string;
  reason: string;
}

/** Longest reason kept on the annotation (annotations of one object share 256 kB; this stays far below). */
const MAX_REASON = 500;

/** The annotation value of `hold`. */
export function holdValue(hold: Hold): string {
  return JSON.stringify({ ...hold, reason: hold.reason.slice(0, MAX_REASON) });
}

/** The hold a Secret's annotations carry, or undefined (none, or not one we wrote). */
export function holdOf(annotations: Readonly<Record<string, string>>): Hold | undefined {
  const text = annotations[HOLD_ANNOTATION];
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object') return undefined;
  const h = parsed as Record<string, unknown>;
  const int = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (typeof h.versionId !== 'string' || h.versionId === '' || !int(h.sync) || !int(h.wave) || !int(h.of)) {
    return undefined;
  }
  if (h.policy !== 'halt' && h.policy !== 'rollback') return undefined;
  return {
    versionId: h.versionId,
    sync: h.sync as number,
    wave: h.wave as number,
    of: h.of as number,
    policy: h.policy,
    since: typeof h.since === 'string' ? h.since : '',
    reason: typeof h.reason === 'string' ? h.reason : '',
  };
}

/** How a person releases a hold, for notes and the CLI. */
export function releaseHint(source: string): string {
  return `"eks-secret-sync release --secret ${source}" releases it`;
}
