/**
 * The pass deadline. After it the engine stops waiting for calls in flight and starts none, so that a cluster that
 * accepts connections and never answers cannot hold the other clusters' results past the function's own timeout.
 * Every refused or abandoned call rejects with DeadlineExceededError naming the cluster and the step.
 */
import { DeadlineExceededError } from '../errors.js';
import { decorate, type KubeCall } from './calls/decorate.js';
import type { ClusterConnector, KubeApi } from './ports/kube.js';
import type { SecretSource } from './ports/source.js';

/** setTimeout fires at once for delays above 2^31-1 ms (about 24.8 days); longer waits are armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class PassDeadline {
  /** Epoch milliseconds on the engine's clock. */
  readonly at: number;
  private reachedFlag = false;
  private readonly arrival: Promise<void>;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** `now` is the engine's injected clock: the deadline is `at - now()` from construction, timed by a timer. */
  constructor(at: number, now: () => Date) {
    this.at = at;
    let left = at - now().getTime();
    this.arrival = new Promise<void>((resolve) => {
      const arm = () => {
        if (left <= 0) {
          this.reachedFlag = true;
          this.timer = undefined;
          resolve();
          return;
        }
        const step = Math.min(left, MAX_TIMER_MS);
        left -= step;
        this.timer = setTimeout(arm, step);
        // A pass that finished early clears it; until then it must not keep a CLI process alive on its own.
        this.timer.unref?.();
      };
      arm();
    });
  }

  get reached(): boolean {
    return this.reachedFlag;
  }

  /** Runs `call` unless the deadline has passed; rejects with `error()` when the deadline comes first. */
  guard<T>(call: () => Promise<T>, error: () => DeadlineExceededError): Promise<T> {
    if (this.reachedFlag) return Promise.reject(error());
    const work = call();
    // An abandoned call may still fail later, when nobody waits for it any more.
    work.catch(() => {});
    return Promise.race([
      work,
      this.arrival.then(() => {
        throw error();
      }),
    ]);
  }

  /** Stops the timer (the pass is over). */
  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Per call: the step and the object a DeadlineExceededError names (namespaces and names, never data). */
const DEADLINE_STEPS: { [C in KubeCall]: (...args: Parameters<KubeApi[C]>) => [step: string, object: string] } = {
  getSecret: (namespace, name) => ['read Secret', `Secret ${namespace}/${name}`],
  getSecretMetadata: (namespace, name) => ['read Secret metadata', `Secret ${namespace}/${name}`],
  createSecret: (secret) => ['write Secret', `Secret ${secret.namespace}/${secret.name}`],
  replaceSecret: (secret) => ['write Secret', `Secret ${secret.namespace}/${secret.name}`],
  deleteSecret: (namespace, name) => ['delete Secret', `Secret ${namespace}/${name}`],
  clearSecretAnnotation: (namespace, name) => ['clear Secret annotation', `Secret ${namespace}/${name}`],
  annotateSecret: (namespace, name) => ['annotate Secret', `Secret ${namespace}/${name}`],
  listManagedSecrets: (namespace) => ['list managed Secrets', `Secrets in ${namespace}`],
  listWorkloads: (namespace, kind) => ['list consumers', `${kind}s in ${namespace}`],
  patchTemplateAnnotations: (namespace, kind, name) => ['restart', `${kind} ${namespace}/${name}`],
  readWorkloadStatus: (namespace, kind, name) => ['observe rollout', `${kind} ${namespace}/${name}`],
  recordEvent: (event) => ['record Event', `${event.regarding.kind} ${event.namespace}/${event.regarding.name}`],
};

/** A KubeApi whose calls end at the deadline (abandoned in flight, refused after it). */
export function deadlineKubeApi(api: KubeApi, deadline: PassDeadline): KubeApi {
  return decorate(api, ({ cluster, call, args }, next) => {
    const [step, object] = (DEADLINE_STEPS[call] as (...a: readonly unknown[]) => [string, string])(...args);
    return deadline.guard(next, () => new DeadlineExceededError(step, { cluster, object }));
  });
}

/** A connector whose connects (DescribeCluster, token, client) end at the deadline and hand out guarded APIs. */
export function deadlineConnector(connector: ClusterConnector, deadline: PassDeadline): ClusterConnector {
  return {
    connect: async (cluster) =>
      deadlineKubeApi(
        await deadline.guard(
          () => connector.connect(cluster),
          () => new DeadlineExceededError('connect', { cluster }),
        ),
        deadline,
      ),
  };
}

/** A SecretSource whose calls end at the deadline; a batched read keeps its contract: one error per id. */
export function deadlineSource(source: SecretSource, deadline: PassDeadline): SecretSource {
  const guard = <T>(step: string, object: string, call: () => Promise<T>): Promise<T> =>
    deadline.guard(call, () => new DeadlineExceededError(step, { object }));
  const secret = (id: string) => `secret "${id}"`;
  return {
    read: async (ids) => {
      try {
        const object = ids.length === 1 ? secret(ids[0] as string) : `${ids.length} secrets`;
        return await guard('read source secret', object, () => source.read(ids));
      } catch (error) {
        if (!(error instanceof DeadlineExceededError)) throw error;
        return new Map(ids.map((id) => [id, new DeadlineExceededError('read source secret', { object: secret(id) })]));
      }
    },
    readVersion: (id, versionId) => guard('read source secret', secret(id), () => source.readVersion(id, versionId)),
    list: (filter) => guard('list source secrets', `selector ${JSON.stringify(filter)}`, () => source.list(filter)),
    describe: (id) => guard('describe source secret', secret(id), () => source.describe(id)),
    currentVersionId: (id) => guard('version check', secret(id), () => source.currentVersionId(id)),
    describeVersions: (id) => guard('describe source versions', secret(id), () => source.describeVersions(id)),
  };
}
