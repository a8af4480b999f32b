/**
 * The pass deadline. After it the engine stops waiting for calls in flight and starts none, so that a cluster that
 * accepts connections and never answers cannot hold the other clusters' results past the function's own timeout.
 * Every refused or abandoned call rejects with DeadlineExceededError naming the cluster and the step.
 */
import { DeadlineExceededError } from '../errors.js';
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

/** A KubeApi whose calls end at the deadline (abandoned in flight, refused after it). */
export function deadlineKubeApi(api: KubeApi, deadline: PassDeadline): KubeApi {
  const { cluster } = api;
  const guard = <T>(step: string, object: string, call: () => Promise<T>): Promise<T> =>
    deadline.guard(call, () => new DeadlineExceededError(step, { cluster, object }));
  return {
    cluster,
    getSecret: (...a: Parameters<KubeApi['getSecret']>) =>
      guard('read Secret', `Secret ${a[0]}/${a[1]}`, () => api.getSecret(...a)),
    createSecret: (...a: Parameters<KubeApi['createSecret']>) =>
      guard('write Secret', `Secret ${a[0].namespace}/${a[0].name}`, () => api.createSecret(...a)),
    replaceSecret: (...a: Parameters<KubeApi['replaceSecret']>) =>
      guard('write Secret', `Secret ${a[0].namespace}/${a[0].name}`, () => api.replaceSecret(...a)),
    deleteSecret: (...a: Parameters<KubeApi['deleteSecret']>) =>
      guard('delete Secret', `Secret ${a[0]}/${a[1]}`, () => api.deleteSecret(...a)),
    clearSecretAnnotation: (...a: Parameters<KubeApi['clearSecretAnnotation']>) =>
      guard('clear Secret annotation', `Secret ${a[0]}/${a[1]}`, () => api.clearSecretAnnotation(...a)),
    listManagedSecrets: (...a: Parameters<KubeApi['listManagedSecrets']>) =>
      guard('list managed Secrets', `Secrets in ${a[0]}`, () => api.listManagedSecrets(...a)),
    listWorkloads: (...a: Parameters<KubeApi['listWorkloads']>) =>
      guard('list consumers', `${a[1]}s in ${a[0]}`, () => api.listWorkloads(...a)),
    patchTemplateAnnotations: (...a: Parameters<KubeApi['patchTemplateAnnotations']>) =>
      guard('restart', `${a[1]} ${a[0]}/${a[2]}`, () => api.patchTemplateAnnotations(...a)),
  };
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
    getCurrent: (id) => guard('read source secret', secret(id), () => source.getCurrent(id)),
    getMany: async (ids) => {
      try {
        return await guard('read source secret', `${ids.length} secrets`, () => source.getMany(ids));
      } catch (error) {
        if (!(error instanceof DeadlineExceededError)) throw error;
        return new Map(ids.map((id) => [id, new DeadlineExceededError('read source secret', { object: secret(id) })]));
      }
    },
    list: (filter) => guard('list source secrets', `selector ${JSON.stringify(filter)}`, () => source.list(filter)),
    describe: (id) => guard('describe source secret', secret(id), () => source.describe(id)),
    currentVersionId: (id) => guard('version check', secret(id), () => source.currentVersionId(id)),
  };
}
