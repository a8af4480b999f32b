/** What one pass of the engine carries through its stages, instead of threading the request through each. */
import type { Config } from '../config/index.js';
import type { SyncRequest } from '../domain/request.js';
import type { PassDeadline } from './deadline.js';
import type { KubeApi } from './ports/kube.js';
import type { SecretSource } from './ports/source.js';
import type { BindingResult } from './types.js';

/** Structured log sink; attributes hold ids, names, hashes and counts only. */
export interface EngineLog {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  /**
   * One binding finished (per namespace, as its writes and restarts end), before the pass is over. Called again for
   * a binding the pass re-applies (a newer version arrived meanwhile); the report holds the last result.
   */
  result?(result: BindingResult): void;
  /**
   * One cluster's bindings all finished (writes and restarts, or failed), `done` of the `total` clusters this pass
   * writes to; for progress counts. Not called again for the version check's re-applies.
   */
  clusterDone?(progress: ClusterProgress): void;
}

/** What `EngineLog.clusterDone` reports. */
export interface ClusterProgress {
  cluster: string;
  done: number;
  total: number;
  bindings: number;
  failed: number;
}

/** A request as one pass of the engine runs it: `pass` goes into the restart-pending markers it sets. */
export interface PassRequest extends SyncRequest {
  pass: string;
}

export interface Pass {
  readonly request: PassRequest;
  readonly config: Config;
  /** Guarded by the pass deadline when there is one. */
  readonly source: SecretSource;
  readonly log: EngineLog;
  readonly now: () => Date;
  /** Waits on the engine's clock (rollout checks space their reads with it). */
  readonly sleep: (ms: number) => Promise<void>;
  readonly deadline: PassDeadline | undefined;
  /** `reportingInstance` of the pass's Kubernetes Events: which entry point (function, CLI) ran it. */
  readonly reportingInstance: string;
  /** Waves a pass writes at most per (secret, sync) before it leaves the next to a continuation; none: all. */
  readonly wavesPerPass?: number | undefined;
  /** The cluster's API for one stage of the pass (bounded and retried, see `SyncEngine`). */
  connect(cluster: string): Promise<KubeApi>;
}
