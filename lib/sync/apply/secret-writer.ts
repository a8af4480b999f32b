/**
 * Secret upsert with ownership rules: compare first, write only on change, optimistic locking with a bounded
 * re-read on 409. Works on the narrow KubeApi port.
 *
 * Besides the hash (the idempotency key), a Secret carries two annotations for people: synced-at (when its current
 * content was written; passes that find it unchanged leave it, and write nothing) and the fingerprint, the value
 * its consumers' pod templates carry (HMAC of the hash keyed by the Secret's uid). An update knows the uid and
 * writes the fingerprint with the content. A create cannot: the API server assigns the uid. So a create is followed
 * by one JSON Patch that adds the fingerprint only while the Secret is still the object created with that hash
 * (`test`s on uid and hash). If the pass dies in between, or the patch fails, the Secret lacks its fingerprint
 * until the next pass that reads it: that pass adds it the same way, still writing no content. A Secret written by
 * an earlier version of this project gets it so too, once.
 */

import {
  contentHash,
  FINGERPRINT_ANNOTATION,
  fingerprint,
  HASH_ANNOTATION,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  markerHash,
  PREVIOUS_VERSION_ANNOTATION,
  RESTART_PENDING_ANNOTATION,
  restartMarker,
  SOURCE_ANNOTATION,
  SYNCED_AT_ANNOTATION,
  VERSION_ANNOTATION,
} from '../../domain/names.js';
import { isArnOf, isSecretArn } from '../../domain/secret-id.js';
import { SyncError } from '../../errors.js';
import { holdOf } from '../hold.js';
import type { KubeApi, KubeSecret, KubeSecretWrite } from '../ports/kube.js';
import type { DesiredSecret } from '../render.js';

export interface UpsertOptions {
  adopt: boolean;
  recreate: boolean;
  dryRun: boolean;
  /** Mark the write as "consumers not restarted yet" so that a retry finishes the restarts. */
  markRestartPending: boolean;
  /** Id of the pass, recorded in the marker so that the pass clears only a marker it set or finished. */
  pass?: string;
  /** Attempts after a 409 Conflict (re-read each time). */
  maxConflictRetries?: number;
  /** The time a content write records in the synced-at annotation; default: now. */
  now?: Date;
  /** Told each read of the Secret (the caller names its uid in a SyncFailed Event if the upsert then throws). */
  onRead?: (existing: KubeSecret | undefined) => void;
}

export interface UpsertOutcome {
  action: 'created' | 'updated' | 'unchanged';
  changedKeys: string[];
  /** The Secret carries our restart-pending marker for this hash (written now, or left by a failed pass). */
  restartPending: boolean;
  /** The marker's value when `restartPending`: what the pass clears, conditionally, once the restarts are done. */
  marker?: string;
  /** The Secret's uid (keys the fingerprint); absent only when a dry run would create it. */
  uid?: string;
  /** Data or type written (or, in a dry run, that would be); false for metadata-only updates and `unchanged`. */
  contentChanged: boolean;
  /** The Secret's annotations once written (or as they would be): Reloader's `match` and `ignore` are read there. */
  annotations: Record<string, string>;
  /** Things worth reporting that are not failures (a fingerprint that could not be added). */
  notes?: string[];
}

const ESO_PREFIXES = ['reconcile.external-secrets.io/', 'external-secrets.io/'];

function ownedByExternalSecrets(secret: KubeSecret): boolean {
  const keys = [...Object.keys(secret.labels), ...Object.keys(secret.annotations)];
  return (
    secret.ownerKinds.includes('ExternalSecret') ||
    secret.ownerKinds.includes('PushSecret') ||
    keys.some((k) => ESO_PREFIXES.some((p) => k.startsWith(p)))
  );
}

/** Key names whose presence or value differs. */
export function changedKeys(before: Record<string, string>, after: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => before[k] !== after[k]).sort();
}

function metadataMatches(existing: KubeSecret, desired: DesiredSecret): boolean {
  const labelsOk = Object.entries(desired.labels).every(([k, v]) => existing.labels[k] === v);
  const annotationsOk = Object.entries(desired.annotations).every(
    ([k, v]) => k === VERSION_ANNOTATION || existing.annotations[k] === v,
  );
  return labelsOk && annotationsOk;
}

/**
 * Adds the fingerprint to a Secret that lacks it (or holds a stale one) without writing its content, only while it
 * is still the object `secret` read with `hash` (see the module comment). Returns a note when it could not.
 */
async function ensureFingerprint(
  api: KubeApi,
  secret: { namespace: string; name: string; uid: string; annotations: Record<string, string> },
  hash: string,
): Promise<string | undefined> {
  const print = fingerprint(secret.uid, hash);
  if (secret.annotations[FINGERPRINT_ANNOTATION] === print) return undefined;
  try {
    // False when the Secret changed or went meanwhile: its next writer or reader sets the right one.
    await api.annotateSecret(secret.namespace, secret.name, FINGERPRINT_ANNOTATION, print, {
      uid: secret.uid,
      annotations: { [HASH_ANNOTATION]: hash },
    });
    return undefined;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return `fingerprint annotation not set (the next pass sets it): ${reason}`;
  }
}

function describe(api: KubeApi, desired: DesiredSecret): string {
  return `Secret ${desired.namespace}/${desired.name} in cluster "${api.cluster}"`;
}

/** Refusals that no retry can fix: the report carries them as errors. */
function checkOwnership(api: KubeApi, existing: KubeSecret, desired: DesiredSecret, options: UpsertOptions): void {
  const what = describe(api, desired);
  if (ownedByExternalSecrets(existing)) {
    throw new SyncError(
      'OwnedByOtherController',
      `${what} is owned by External Secrets Operator; refusing to write it`,
    );
  }
  if (existing.labels[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE && !options.adopt) {
    throw new SyncError(
      'NotManaged',
      `${what} exists and is not managed by eks-secret-sync; set "adopt: true" on the target to take it over`,
    );
  }
  const other = otherSource(existing, desired);
  if (other !== undefined) {
    throw new SyncError(
      'SourceMismatch',
      `${what} mirrors secret "${other}", not "${desired.source.arn}"; refusing to overwrite it (two sources map to this Secret: give them distinct "secret" names; if "${other}" was deleted and recreated, delete the Secret or its ${SOURCE_ANNOTATION} annotation)`,
    );
  }
}

/**
 * The secret a Secret records in our source annotation, when it is not `desired`'s. Decided on the full ARN; a name
 * (written by older versions) is the same secret when it is the ARN's name, and is then rewritten to the ARN.
 */
function otherSource(existing: KubeSecret, desired: DesiredSecret): string | undefined {
  const recorded = existing.annotations[SOURCE_ANNOTATION];
  if (recorded === undefined || recorded === '') return undefined;
  const same = isSecretArn(recorded) ? isArnOf(recorded, desired.source) : recorded === desired.source.name;
  return same ? undefined : recorded;
}

/** A type change or an immutable Secret cannot be updated in place: recreate when allowed, else refuse. */
function needsRecreate(api: KubeApi, existing: KubeSecret, desired: DesiredSecret, options: UpsertOptions): boolean {
  const what = describe(api, desired);
  if (existing.type !== desired.type) {
    if (options.recreate) return true;
    throw new SyncError(
      'TypeChange',
      `${what} has type ${existing.type}, the configuration wants ${desired.type}; the type of a Secret cannot change (set "recreate: true" to delete and recreate it)`,
    );
  }
  if (existing.immutable) {
    if (options.recreate) return true;
    throw new SyncError(
      'Immutable',
      `${what} is immutable and differs; set "recreate: true" to delete and recreate it`,
    );
  }
  return false;
}

/**
 * The Secret to write. `uid` is that of the object the write lands on (an update's), undefined for a create, whose
 * fingerprint follows in its own patch; a fingerprint copied from a replaced object is dropped. `syncedAt` is set
 * when the content changes, else the existing value is kept, and so is the previous version id.
 */
function toWrite(
  desired: DesiredSecret,
  existing: KubeSecret | undefined,
  marker: string | undefined,
  stamp: { uid: string | undefined; syncedAt: Date | undefined },
): KubeSecretWrite {
  const annotations = { ...(existing?.annotations ?? {}), ...desired.annotations };
  if (marker !== undefined) annotations[RESTART_PENDING_ANNOTATION] = marker;
  if (stamp.uid === undefined) delete annotations[FINGERPRINT_ANNOTATION];
  else annotations[FINGERPRINT_ANNOTATION] = fingerprint(stamp.uid, desired.hash);
  if (stamp.syncedAt !== undefined) annotations[SYNCED_AT_ANNOTATION] = stamp.syncedAt.toISOString();
  // What a failed wave rolls back to: the version this content replaces (README "Waves").
  const replaced = existing?.annotations[VERSION_ANNOTATION];
  if (stamp.syncedAt !== undefined && replaced !== undefined && replaced !== desired.annotations[VERSION_ANNOTATION]) {
    annotations[PREVIOUS_VERSION_ANNOTATION] = replaced;
  }
  return {
    namespace: desired.namespace,
    name: desired.name,
    type: desired.type,
    data: desired.data,
    labels: { ...(existing?.labels ?? {}), ...desired.labels },
    annotations,
  };
}

/** Creates or updates one Secret; returns what it did. Writes nothing when data, type and our metadata are equal. */
export async function upsertSecret(
  api: KubeApi,
  desired: DesiredSecret,
  options: UpsertOptions,
): Promise<UpsertOutcome> {
  const attempts = 1 + (options.maxConflictRetries ?? 5);
  const newMarker = options.markRestartPending ? restartMarker(desired.hash, options.pass) : undefined;
  const now = options.now ?? new Date();
  for (let attempt = 1; ; attempt++) {
    const existing = await api.getSecret(desired.namespace, desired.name);
    options.onRead?.(existing);
    try {
      if (existing === undefined) {
        const write = toWrite(desired, undefined, newMarker, { uid: undefined, syncedAt: now });
        const created = options.dryRun ? undefined : await api.createSecret(write);
        const note = created === undefined ? undefined : await ensureFingerprint(api, created, desired.hash);
        return {
          action: 'created',
          changedKeys: Object.keys(desired.data).sort(),
          restartPending: options.markRestartPending,
          ...(newMarker === undefined ? {} : { marker: newMarker }),
          ...(created === undefined ? {} : { uid: created.uid }),
          contentChanged: true,
          annotations: write.annotations,
          ...(note === undefined ? {} : { notes: [note] }),
        };
      }
      checkOwnership(api, existing, desired, options);
      const contentChanged =
        existing.type !== desired.type || contentHash(existing.type, existing.data) !== desired.hash;
      // A pass that read no hold before another pass recorded one must not write the held version after it.
      const held = holdOf(existing.annotations)?.versionId;
      if (contentChanged && held !== undefined && held === desired.annotations[VERSION_ANNOTATION]) {
        return {
          action: 'unchanged',
          changedKeys: [],
          restartPending: false,
          uid: existing.uid,
          contentChanged: false,
          annotations: existing.annotations,
          notes: [`not written: version ${held} is held on this Secret (README "Waves")`],
        };
      }
      // Left by a pass that wrote this content and did not finish its restarts: finishing them is up to us.
      const leftMarker = existing.annotations[RESTART_PENDING_ANNOTATION];
      const left = markerHash(leftMarker) === desired.hash ? leftMarker : undefined;
      if (!contentChanged && metadataMatches(existing, desired)) {
        // A Secret created by a pass that died before its fingerprint patch (or by an earlier version) gets it now.
        const note = options.dryRun ? undefined : await ensureFingerprint(api, existing, desired.hash);
        return {
          action: 'unchanged',
          changedKeys: [],
          restartPending: left !== undefined,
          ...(left === undefined ? {} : { marker: left }),
          uid: existing.uid,
          contentChanged: false,
          annotations: existing.annotations,
          ...(note === undefined ? {} : { notes: [note] }),
        };
      }
      const recreate = contentChanged && needsRecreate(api, existing, desired, options);
      const marker = contentChanged ? newMarker : left;
      const syncedAt = contentChanged ? now : undefined;
      let uid: string | undefined = existing.uid;
      let note: string | undefined;
      if (!options.dryRun) {
        if (recreate) {
          const write = toWrite(desired, existing, marker, { uid: undefined, syncedAt });
          // Only the object we read: a concurrent pass may have recreated it already (then Conflict, re-read).
          await api.deleteSecret(desired.namespace, desired.name, {
            uid: existing.uid,
            resourceVersion: existing.resourceVersion,
          });
          const created = await api.createSecret(write);
          uid = created.uid;
          note = await ensureFingerprint(api, created, desired.hash);
        } else {
          const write = toWrite(desired, existing, marker, { uid: existing.uid, syncedAt });
          await api.replaceSecret({ ...write, resourceVersion: existing.resourceVersion });
        }
      } else if (recreate) {
        uid = undefined;
      }
      return {
        action: 'updated',
        changedKeys: changedKeys(existing.data, desired.data),
        restartPending: marker !== undefined,
        ...(marker === undefined ? {} : { marker }),
        ...(uid === undefined ? {} : { uid }),
        contentChanged,
        annotations: { ...existing.annotations, ...desired.annotations },
        ...(note === undefined ? {} : { notes: [note] }),
      };
    } catch (error) {
      if (error instanceof SyncError && error.code === 'Conflict' && attempt < attempts) {
        // Another writer is active: back off (jittered, 25 ms doubling, at most 400 ms) before re-reading.
        const base = Math.min(400, 25 * 2 ** (attempt - 1));
        await new Promise((resolve) => setTimeout(resolve, base / 2 + Math.random() * (base / 2)));
        continue;
      }
      throw error;
    }
  }
}
