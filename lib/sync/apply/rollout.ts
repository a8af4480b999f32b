/**
 * Where a restarted workload's rollout stands, from its status alone: one check per kind, the rules `kubectl rollout
 * status` applies (https://github.com/kubernetes/kubectl, polymorphichelpers/rollout_status.go), so that "rolled
 * out" here means what it means to an operator.
 */
import type {
  DaemonSetStatus,
  DeploymentStatus,
  RolloutStatus,
  StatefulSetStatus,
  WorkloadKind,
  WorkloadStatus,
} from '../ports/kube.js';

export type Verdict =
  /** Every wanted pod runs the new template and is available (ready, for a StatefulSet). */
  | { state: 'done' }
  /** Still rolling; `reason` says what it waits for. */
  | { state: 'waiting'; reason: string }
  /** Its controller gave up (Deployment progress deadline). */
  | { state: 'failed'; reason: string }
  /** Will not move by itself (paused, OnDelete): reading again would only cost calls. */
  | { state: 'held'; reason: string };

const waiting = (reason: string): Verdict => ({ state: 'waiting', reason });
const UNOBSERVED = waiting('its controller has not picked up the restart yet');

function deployment(s: DeploymentStatus): Verdict {
  // Before the controller observed our generation, the counters and conditions describe the previous template.
  if (s.observedGeneration < s.generation) return UNOBSERVED;
  if (s.progressDeadlineExceeded) {
    return {
      state: 'failed',
      reason: `progress deadline exceeded (${s.availableReplicas} of ${s.updatedReplicas} updated pods available)`,
    };
  }
  if (s.paused) return { state: 'held', reason: 'paused: rolls out when resumed' };
  if (s.updatedReplicas < s.specReplicas) return waiting(`${s.updatedReplicas} of ${s.specReplicas} pods updated`);
  if (s.replicas > s.updatedReplicas) return waiting(`${s.replicas - s.updatedReplicas} old pods still running`);
  if (s.availableReplicas < s.updatedReplicas) {
    return waiting(`${s.availableReplicas} of ${s.updatedReplicas} updated pods available`);
  }
  return { state: 'done' };
}

function statefulSet(s: StatefulSetStatus): Verdict {
  if (s.onDelete) return { state: 'held', reason: 'updateStrategy OnDelete: pods are replaced only when deleted' };
  if (s.observedGeneration < s.generation) return UNOBSERVED;
  if (s.readyReplicas < s.specReplicas) return waiting(`${s.readyReplicas} of ${s.specReplicas} pods ready`);
  if (s.partition > 0) {
    // Only the ordinals at or above the partition take the new template.
    const wanted = Math.max(0, s.specReplicas - s.partition);
    return s.updatedReplicas < wanted
      ? waiting(`${s.updatedReplicas} of ${wanted} pods above partition ${s.partition} updated`)
      : { state: 'done' };
  }
  // The controller moves currentRevision to updateRevision once every pod runs the new one.
  if (s.updateRevision !== s.currentRevision) {
    return waiting(`${s.updatedReplicas} of ${s.specReplicas} pods at the new revision`);
  }
  return { state: 'done' };
}

function daemonSet(s: DaemonSetStatus): Verdict {
  if (s.onDelete) return { state: 'held', reason: 'updateStrategy OnDelete: pods are replaced only when deleted' };
  if (s.observedGeneration < s.generation) return UNOBSERVED;
  if (s.updatedNumberScheduled < s.desiredNumberScheduled) {
    return waiting(`${s.updatedNumberScheduled} of ${s.desiredNumberScheduled} nodes run an updated pod`);
  }
  if (s.numberAvailable < s.desiredNumberScheduled) {
    return waiting(`${s.numberAvailable} of ${s.desiredNumberScheduled} pods available (${s.numberReady} ready)`);
  }
  return { state: 'done' };
}

/**
 * An Argo Rollout restarted by `spec.restartAt`: done once its controller recorded the restart (`status.restartedAt`
 * at or after it) and reports it Healthy. The pass itself does not watch Rollouts (README "Workload kinds"); waves do.
 */
function rollout(s: RolloutStatus): Verdict {
  if (s.phase === 'Degraded') return { state: 'failed', reason: `Degraded${s.message ? `: ${s.message}` : ''}` };
  const restarted =
    s.restartAt === undefined || (s.restartedAt !== undefined && Date.parse(s.restartedAt) >= Date.parse(s.restartAt));
  if (!restarted) return waiting('Argo Rollouts has not restarted its pods yet');
  if (s.phase === 'Paused') return { state: 'held', reason: `paused${s.message ? `: ${s.message}` : ''}` };
  if (s.phase !== 'Healthy') return waiting(s.phase === '' ? 'no status from Argo Rollouts yet' : s.phase);
  return { state: 'done' };
}

const CHECKS: { [K in WorkloadKind]: (status: Extract<WorkloadStatus, { kind: K }>) => Verdict } = {
  Deployment: deployment,
  StatefulSet: statefulSet,
  DaemonSet: daemonSet,
  Rollout: rollout,
  // Nothing rolls: the next Job runs with the template it has then.
  CronJob: () => ({ state: 'done' }),
};

/** Where the rollout described by `status` stands. */
export function rolloutVerdict(status: WorkloadStatus): Verdict {
  return (CHECKS[status.kind] as (s: WorkloadStatus) => Verdict)(status);
}
