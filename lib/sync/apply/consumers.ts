/** Which workloads consume a Secret: pod-spec references plus Reloader's opt-in annotations. Pure. */
import type { PodSpecRefs, Workload } from '../ports/kube.js';

/** Reloader annotations honoured for teams migrating from it (https://github.com/stakater/Reloader#how-to-use-reloader). */
export const RELOADER_RELOAD = 'secret.reloader.stakater.com/reload';
export const RELOADER_AUTO = 'reloader.stakater.com/auto';
export const RELOADER_SECRET_AUTO = 'secret.reloader.stakater.com/auto';

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

/** Secrets a workload names in `secret.reloader.stakater.com/reload: "a,b"`. */
function reloaderNamed(workload: Workload): string[] {
  const value = workload.annotations[RELOADER_RELOAD];
  return value === undefined
    ? []
    : value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

/**
 * Whether `workload` consumes `secretName`: it references it in its pod spec, or names it in Reloader's reload
 * annotation. (`reloader.stakater.com/auto` means "every referenced Secret", which the pod spec already covers.)
 */
export function consumes(workload: Workload, secretName: string): boolean {
  return referencedSecrets(workload.podSpec).has(secretName) || reloaderNamed(workload).includes(secretName);
}
