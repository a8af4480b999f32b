/**
 * The Kubernetes Events a pass leaves where people look (`kubectl describe secret`, `kubectl get events`):
 * `Synced` and `SyncFailed` on the Secret, `Restarted` on each workload patched, then `RolledOut` or `RolloutFailed`
 * once its rollout check decided (none while it is still progressing). They are built here from what the
 * pass did and recorded best effort: a failed Event is logged, never a failed binding.
 *
 * When: only for a write (new content, a restart) or a failure. A pass that finds everything unchanged records
 * nothing, so a reconcile every 30 minutes adds no Events; dry runs record nothing. A failure that repeats (the
 * same reason and message on the same object) is counted into the first Event's series instead of adding one.
 * Notes hold names, version ids, key names and our own error messages, never a value.
 */
import { createHash } from 'node:crypto';
import type { ErrorCode } from '../../errors.js';
import type { EventObject, KubeApi, KubeEvent, WorkloadKind } from '../ports/kube.js';
import type { BindingResult } from '../types.js';
import type { PatchedWorkload } from './restarter.js';

export const SYNCED = 'Synced';
export const SYNC_FAILED = 'SyncFailed';
export const RESTARTED = 'Restarted';
/** On a CronJob whose job template was updated: nothing restarted, its next Job uses the new value. */
export const TEMPLATE_UPDATED = 'TemplateUpdated';
export const ROLLED_OUT = 'RolledOut';
export const ROLLOUT_FAILED = 'RolloutFailed';
export const ROLLOUT_HALTED = 'RolloutHalted';

/** The API server refuses a longer note (events.k8s.io/v1 validation: 1 kB). */
export const MAX_NOTE_LENGTH = 1024;

/**
 * Failures after which an Event cannot be recorded either (no cluster, no namespace, no permission there, no time
 * left): trying would only add a warning per binding.
 */
const UNRECORDABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ClusterUnknown',
  'ClusterUnavailable',
  'Timeout',
  'DeadlineExceeded',
  'NamespaceNotFound',
  'Forbidden',
]);

/** What the write stage knows about one binding's Secret, for its Events. */
export interface SecretFacts {
  /** The Secret's uid when known (read, written, or created): `kubectl describe` matches Events by it. */
  uid?: string;
  /** The source secret's ARN and the version written; set when content was written (or would have been). */
  arn?: string;
  versionId?: string;
  /** What the write did to the content: set only when it wrote (or a dry run would write) data or type. */
  wrote?: 'created' | 'updated';
}

/** The parts of an Event the builders choose; `name` and `namespace` follow from them. */
type EventContent = Omit<KubeEvent, 'name' | 'namespace'>;

/**
 * The Event's name: its object's name and a digest of everything but the time, so that an identical Event gets the
 * same name and is counted into the existing one's series (names are at most 253 characters).
 */
export function eventName(event: EventContent): string {
  const { regarding } = event;
  const key = [
    regarding.kind,
    regarding.namespace,
    regarding.name,
    regarding.uid ?? '',
    event.type,
    event.reason,
    event.action,
    event.reportingInstance,
    event.note,
  ].join('\n');
  const digest = createHash('sha256').update(key).digest('hex').slice(0, 16);
  return `${regarding.name.slice(0, 200).replace(/[-.]+$/, '')}.${digest}`;
}

function toEvent(content: EventContent): KubeEvent {
  const note =
    content.note.length <= MAX_NOTE_LENGTH ? content.note : `${content.note.slice(0, MAX_NOTE_LENGTH - 3)}...`;
  const event = { ...content, note };
  return { ...event, namespace: content.regarding.namespace, name: eventName(event) };
}

function secretObject(result: BindingResult, uid: string | undefined): EventObject {
  return {
    kind: 'Secret',
    namespace: result.namespace,
    name: result.secret,
    ...(uid === undefined || uid === '' ? {} : { uid }),
  };
}

/** `Synced` on a Secret whose content this pass wrote: source, version, and the key names that changed. */
export function syncedEvent(result: BindingResult, facts: SecretFacts, instance: string, time: Date): KubeEvent {
  const keys = result.changedKeys ?? [];
  const how = facts.wrote === 'created' ? 'Created' : 'Updated';
  return toEvent({
    regarding: secretObject(result, facts.uid),
    type: 'Normal',
    reason: SYNCED,
    action: 'Sync',
    note: `${how} from ${facts.arn ?? result.source} version ${facts.versionId ?? 'unknown'}; changed keys: ${keys.length === 0 ? 'none (type changed)' : keys.join(', ')}`,
    reportingInstance: instance,
    time,
  });
}

/** `SyncFailed` on a failed binding's Secret: our error code and message (which never hold a value). */
export function syncFailedEvent(result: BindingResult, uid: string | undefined, instance: string, time: Date) {
  const error = result.error ?? { code: 'Internal', message: 'failed' };
  return toEvent({
    regarding: secretObject(result, uid),
    type: 'Warning',
    reason: SYNC_FAILED,
    action: 'Sync',
    note: `${error.code}: ${error.message}`,
    reportingInstance: instance,
    time,
  });
}

/** What a halted wave's Events say: the bad version, where it stopped, and why (names and counts only). */
export interface Halt {
  arn?: string;
  versionId?: string;
  wave: number;
  of: number;
  reason: string;
  /** What was done about it, e.g. the rollback (appended to the note). */
  outcome?: string;
}

/** `RolloutHalted` (Warning) on each Secret of a failed wave: the later waves are not written with this version. */
export function rolloutHaltedEvent(
  where: { namespace: string; secret: string },
  uid: string | undefined,
  halt: Halt,
  instance: string,
  time: Date,
): KubeEvent {
  const later = halt.wave < halt.of ? `waves ${halt.wave + 1}-${halt.of} are not written` : 'it was the last wave';
  return toEvent({
    regarding: { kind: 'Secret', namespace: where.namespace, name: where.secret, ...(uid ? { uid } : {}) },
    type: 'Warning',
    reason: ROLLOUT_HALTED,
    action: 'Rollout',
    note: `Version ${halt.versionId ?? 'unknown'} of ${halt.arn ?? 'the source'} halted at wave ${halt.wave} of ${halt.of} (${later}): ${halt.reason}${halt.outcome === undefined ? '' : `; ${halt.outcome}`}`,
    reportingInstance: instance,
    time,
  });
}

/**
 * `Restarted` on a workload patched: which Secrets, at which versions, it was restarted for (`TemplateUpdated` on a
 * CronJob, which restarts nothing).
 */
export function restartedEvent(namespace: string, patched: PatchedWorkload, instance: string, time: Date): KubeEvent {
  const { workload } = patched;
  const secrets = patched.items.map((i) => `Secret ${namespace}/${i.secretName} version ${i.versionId ?? 'unknown'}`);
  return toEvent({
    regarding: {
      kind: workload.kind,
      namespace,
      name: workload.name,
      ...(workload.uid === '' ? {} : { uid: workload.uid }),
    },
    type: 'Normal',
    ...(workload.kind === 'CronJob'
      ? {
          reason: TEMPLATE_UPDATED,
          action: 'Update',
          note: `Job template updated for the next run: ${secrets.join(', ')}`,
        }
      : { reason: RESTARTED, action: 'Restart', note: `Rolling restart for ${secrets.join(', ')}` }),
    reportingInstance: instance,
    time,
  });
}

/** A workload as the rollout check read it: the Events about its rollout name it by uid. */
export interface RolloutSubject {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  uid: string;
}

/**
 * `RolledOut` (Normal) or `RolloutFailed` (Warning) on a workload this pass restarted, once its rollout check
 * decided: the Restarted Event is recorded at the patch, before anyone knows how the rollout goes. `reason` holds
 * pod counts only.
 */
export function rolloutEvent(
  subject: RolloutSubject,
  outcome: { failed: false } | { failed: true; reason: string },
  instance: string,
  time: Date,
): KubeEvent {
  return toEvent({
    regarding: {
      kind: subject.kind,
      namespace: subject.namespace,
      name: subject.name,
      ...(subject.uid === '' ? {} : { uid: subject.uid }),
    },
    type: outcome.failed ? 'Warning' : 'Normal',
    reason: outcome.failed ? ROLLOUT_FAILED : ROLLED_OUT,
    action: 'Rollout',
    note: outcome.failed
      ? `Rollout after the restart failed: ${outcome.reason}`
      : 'Rolled out after the restart: every pod runs the new template and is available',
    reportingInstance: instance,
    time,
  });
}

/** Whether a failed binding gets a SyncFailed Event (see UNRECORDABLE). */
export function recordsFailure(result: BindingResult): boolean {
  return result.action === 'failed' && result.error !== undefined && !UNRECORDABLE.has(result.error.code);
}

/** Records the Events of one namespace, all at once; each one that fails is told to `warn` and dropped. */
export async function recordEvents(
  api: KubeApi,
  events: readonly KubeEvent[],
  warn: (message: string, attributes: Record<string, unknown>) => void,
): Promise<void> {
  await Promise.all(
    events.map(async (event) => {
      try {
        await api.recordEvent(event);
      } catch (error) {
        warn('event not recorded', {
          cluster: api.cluster,
          namespace: event.namespace,
          object: `${event.regarding.kind}/${event.regarding.name}`,
          reason: event.reason,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }),
  );
}
