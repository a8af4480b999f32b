/**
 * One way to wrap every call of a `KubeApi` (limits, retries, the deadline, connection-failure watching, counting):
 * the list of calls is written once, here, and a method added to the port that is missing from it fails to compile.
 */
import type { KubeApi } from '../ports/kube.js';

/** The name of a KubeApi call (every member but `cluster`). */
export type KubeCall = Exclude<keyof KubeApi, 'cluster'>;

/** Keyed by every KubeCall: a missing or unknown name is a compile error, so a new method cannot be forgotten. */
const CALLS: Record<KubeCall, true> = {
  getSecret: true,
  getSecretMetadata: true,
  createSecret: true,
  replaceSecret: true,
  deleteSecret: true,
  clearSecretAnnotation: true,
  annotateSecret: true,
  listManagedSecrets: true,
  listWorkloads: true,
  patchTemplateAnnotations: true,
  readWorkloadStatus: true,
  recordEvent: true,
};

/** Every KubeCall, in the port's order. */
export const KUBE_CALLS = Object.keys(CALLS) as readonly KubeCall[];

/** A call in flight, as a decorator sees it: `next()` makes it on the wrapped API (at most once per attempt). */
export interface KubeCallContext {
  readonly cluster: string;
  readonly call: KubeCall;
  readonly args: readonly unknown[];
}

/** What runs around each call; it returns what `next()` returned or throws (generic, so it cannot make one up). */
export type Around = <T>(context: KubeCallContext, next: () => Promise<T>) => Promise<T>;

/** A KubeApi whose every call goes through `around`, then to `api`. */
export function decorate(api: KubeApi, around: Around): KubeApi {
  const decorated: Record<string, unknown> = { cluster: api.cluster };
  for (const call of KUBE_CALLS) {
    const method = api[call] as (...args: unknown[]) => Promise<unknown>;
    decorated[call] = (...args: unknown[]) =>
      around({ cluster: api.cluster, call, args }, () => method.apply(api, args));
  }
  return decorated as unknown as KubeApi;
}

/** The namespace a call works in: every call takes it first, as a string or as the Secret's `namespace`. */
export function callNamespace(context: KubeCallContext): string {
  const first = context.args[0];
  return typeof first === 'string' ? first : String((first as { namespace?: unknown } | undefined)?.namespace);
}
