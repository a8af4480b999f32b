/**
 * Which workloads consume a Secret: pod-spec references plus Reloader's annotations, read as Reloader documents
 * them (https://github.com/stakater/Reloader#-usage; README "Reloader annotations" says where we differ). Pure.
 */
import type { PodSpecRefs, Workload } from '../ports/kube.js';

/** On a workload: restart it for the Secrets named (comma-separated; each an anchored pattern), referenced or not. */
export const RELOADER_RELOAD = 'secret.reloader.stakater.com/reload';
/** On a workload: `"true"` restarts it for every Secret (and ConfigMap) it references; `"false"` opts it out. */
export const RELOADER_AUTO = 'reloader.stakater.com/auto';
/** On a workload: as `reloader.stakater.com/auto`, Secrets only. */
export const RELOADER_SECRET_AUTO = 'secret.reloader.stakater.com/auto';
/** On a workload: `"true"` restarts it for the Secrets it references that carry `reloader.stakater.com/match`. */
export const RELOADER_SEARCH = 'reloader.stakater.com/search';
/** On a Secret: `"true"` makes it one that search workloads restart for. */
export const RELOADER_MATCH = 'reloader.stakater.com/match';
/** On a Secret: `"true"` means no workload is restarted for it (by discovery or Reloader annotation). */
export const RELOADER_IGNORE = 'reloader.stakater.com/ignore';

/**
 * Which consumers a target restarts besides the ones it names: `auto`, every workload referencing the Secret (as
 * Reloader's `--auto-reload-all`: a workload opts out with `reloader.stakater.com/auto: "false"`); `annotated`,
 * only workloads whose Reloader annotations ask for it (Reloader's default).
 */
export type Discovery = 'auto' | 'annotated';

/** The Secret restarts are for: its name, and its annotations as written (Reloader's `match` and `ignore`). */
export interface ConsumedSecret {
  name: string;
  annotations: Readonly<Record<string, string>>;
}

/** Secret names referenced by env, envFrom, secret volumes and projected volumes, in containers and initContainers. */
export function referencedSecrets(spec: PodSpecRefs): Set<string> {
  const names = new Set<string>();
  for (const container of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    for (const env of container.env ?? []) {
      const name = env.valueFrom?.secretKeyRef?.name;
      if (name) names.add(name);
    }
    for (const from of container.envFrom ?? []) {
      const name = from.secretRef?.name;
      if (name) names.add(name);
    }
  }
  for (const volume of spec.volumes ?? []) {
    if (volume.secret?.secretName) names.add(volume.secret.secretName);
    for (const source of volume.projected?.sources ?? []) {
      if (source.secret?.name) names.add(source.secret.name);
    }
  }
  return names;
}

/** Go's strconv.ParseBool, which Reloader reads `auto` with: undefined when the text is neither. */
function parseBool(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

/**
 * A quantified group (`(a+)+`) can make a backtracking engine take exponential time; Go's RE2, which Reloader
 * uses, cannot. Such a pattern, or one that does not compile, is compared as a plain name instead.
 */
const QUANTIFIED_GROUP = /\)\s*[*+?{]/;

/** Whether one `reload` list entry names `secretName`: an anchored pattern, as Reloader reads it (`db-.*`). */
function namesSecret(entry: string, secretName: string): boolean {
  if (entry === secretName) return true;
  if (QUANTIFIED_GROUP.test(entry)) return false;
  try {
    return new RegExp(`^(?:${entry})$`).test(secretName);
  } catch {
    return false;
  }
}

/**
 * The Reloader annotations that speak for a workload: those on its own metadata, or, when it carries none of
 * `reload`, `auto`, `secret.../auto` and `search` there, those of its pod template (Reloader's fallback).
 */
function reloaderAnnotations(workload: Workload): Readonly<Record<string, string>> {
  const own = workload.annotations;
  const said = [RELOADER_RELOAD, RELOADER_AUTO, RELOADER_SECRET_AUTO, RELOADER_SEARCH].some((k) => k in own);
  return said ? own : workload.templateAnnotations;
}

/**
 * Whether `workload` is restarted for `secret` under `discovery`. Nothing is, for a Secret annotated
 * `reloader.stakater.com/ignore: "true"`. Else a workload is when it references the Secret and says
 * `reloader.stakater.com/auto` or `secret.reloader.stakater.com/auto` is true (under `auto`: when it says
 * neither), names it in `secret.reloader.stakater.com/reload` (referenced or not), or says
 * `reloader.stakater.com/search: "true"` and references it while the Secret says `reloader.stakater.com/match: "true"`.
 */
export function consumes(workload: Workload, secret: ConsumedSecret, discovery: Discovery = 'auto'): boolean {
  if (secret.annotations[RELOADER_IGNORE] === 'true') return false;
  const annotations = reloaderAnnotations(workload);
  const referenced = referencedSecrets(workload.podSpec).has(secret.name);
  const auto = parseBool(annotations[RELOADER_AUTO]);
  const secretAuto = parseBool(annotations[RELOADER_SECRET_AUTO]);
  // Reloader's --auto-reload-all applies to workloads that set neither auto annotation (an empty one is unset).
  const unsaid = !annotations[RELOADER_AUTO] && !annotations[RELOADER_SECRET_AUTO];
  if (referenced && (auto === true || secretAuto === true || (discovery === 'auto' && unsaid))) return true;
  const named = (annotations[RELOADER_RELOAD] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (named.some((entry) => namesSecret(entry, secret.name))) return true;
  return referenced && annotations[RELOADER_SEARCH] === 'true' && secret.annotations[RELOADER_MATCH] === 'true';
}
