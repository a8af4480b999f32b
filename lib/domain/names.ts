/** Names and keys we put on Kubernetes objects. */
import { createHash, createHmac } from 'node:crypto';

/** Our field manager: `managedFields` and GitOps diffs attribute our writes to it. */
export const FIELD_MANAGER = 'eks-secret-sync';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'eks-secret-sync';
const PREFIX = 'eks-secret-sync.io';
/** SHA-256 of the rendered data and type; the idempotency key for writes and restarts. */
export const HASH_ANNOTATION = `${PREFIX}/hash`;
export const SOURCE_ANNOTATION = `${PREFIX}/source`;
export const VERSION_ANNOTATION = `${PREFIX}/version-id`;
/**
 * The version id the Secret held before its current content was written (set with each content write that changes
 * the version): what a failed wave is rolled back to (README "Waves").
 */
export const PREVIOUS_VERSION_ANNOTATION = `${PREFIX}/previous-version-id`;
/** On the first wave's Secrets of a sync with waves: the version held after a failed wave (JSON, see lib/sync/hold.ts). */
export const HOLD_ANNOTATION = `${PREFIX}/hold`;
/** When the Secret's current content was written (RFC 3339, UTC); unchanged by passes that find nothing to do. */
export const SYNCED_AT_ANNOTATION = `${PREFIX}/synced-at`;
/** The Secret's content fingerprint, the same value its consumers' pod templates carry (see `fingerprint`). */
export const FINGERPRINT_ANNOTATION = `${PREFIX}/fingerprint`;
/** Set with a Secret write, cleared once its consumers are restarted: a crash in between is healed by the retry. */
export const RESTART_PENDING_ANNOTATION = `${PREFIX}/restart-pending`;

/**
 * The restart-pending marker's value: the content hash the restarts are pending for and the pass that set it, so
 * that a pass clears only its own marker (never one a newer pass set, even for the same content after a rollback).
 */
export function restartMarker(hash: string, pass: string | undefined): string {
  return pass === undefined ? hash : `${hash}/${pass}`;
}

/** The content hash a restart-pending marker is for (markers written before the pass id hold the hash alone). */
export function markerHash(marker: string | undefined): string | undefined {
  return marker?.split('/')[0];
}
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';
/**
 * On a workload's own metadata: the Deployment controller copies it to the ReplicaSet a restart creates (the
 * StatefulSet and DaemonSet controllers to their ControllerRevision), which `kubectl rollout history` shows.
 */
export const CHANGE_CAUSE_ANNOTATION = 'kubernetes.io/change-cause';
/** `reportingController` of our Kubernetes Events. */
export const REPORTING_CONTROLLER = 'eks-secret-sync';

/**
 * Pod-template annotation carrying the hash of one consumed Secret. Annotation name segments are at most 63
 * characters, so long Secret names are shortened with a digest to stay unique.
 */
export function consumerHashAnnotation(secretName: string): string {
  const segment = `secret.${secretName}`;
  if (segment.length <= 63) return `${PREFIX}/${segment}`;
  const digest = createHash('sha256').update(secretName).digest('hex').slice(0, 10);
  return `${PREFIX}/secret.${secretName.slice(0, 44).replace(/[-.]+$/, '')}-${digest}`;
}

/**
 * The Kubernetes Secret a target writes for a source secret: the target's own `secret`, else the name derived from
 * the source's name. Selector targets cannot name it, so theirs is always derived (the orphan check relies on it).
 */
export function secretNameFor(sourceName: string, target: { secret?: string | undefined } = {}): string {
  return target.secret ?? kubernetesNameFor(sourceName);
}

/** A Secrets Manager name (`prod/payments/db_main`) made a valid Kubernetes Secret name (`prod-payments-db-main`). */
export function kubernetesNameFor(secretName: string): string {
  const cleaned = secretName
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    // Each dot-separated label must start and end alphanumeric: `app/.env` -> `app.env`, not `app-.env`.
    .replace(/[-.]*\.[-.]*/g, '.')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return cleaned.slice(0, 253).replace(/[^a-z0-9]+$/, '') || 'secret';
}

/** SHA-256 over the type and the sorted `key=base64` pairs (README "How it behaves"). */
export function contentHash(type: string, data: Record<string, string>): string {
  const hash = createHash('sha256').update(`type=${type}\n`);
  for (const key of Object.keys(data).sort()) hash.update(`${key}=${data[key]}\n`);
  return hash.digest('hex');
}

/**
 * What pod templates, reports and logs carry instead of the content hash: HMAC-SHA256 of the content hash keyed
 * by the Kubernetes Secret's uid. A plain hash of a weak value (one short password) could be guessed offline by
 * anyone who may read Deployments or logs; the uid is known only to those who may read the Secret itself.
 */
export function fingerprint(secretUid: string, hash: string): string {
  return createHmac('sha256', secretUid).update(hash).digest('hex');
}

/** Longest Secret data key (Kubernetes' IsConfigMapKey: a DNS-1123 subdomain's length). */
export const MAX_SECRET_KEY_LENGTH = 253;
const SECRET_KEY_CHARS = /^[-._a-zA-Z0-9]+$/;

/**
 * Why `key` cannot be a Secret data key, or undefined if it can: Kubernetes' IsConfigMapKey rules (at most 253
 * characters of `[-._a-zA-Z0-9]`, not `.` or `..`, not starting with `..`), and `__proto__`, which a JavaScript
 * object silently drops. IsConfigMapKey is in kubernetes/kubernetes
 * staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go.
 */
export function secretKeyProblem(key: string): string | undefined {
  if (key.length === 0) return 'must not be empty';
  if (key.length > MAX_SECRET_KEY_LENGTH) return `must be at most ${MAX_SECRET_KEY_LENGTH} characters`;
  if (!SECRET_KEY_CHARS.test(key)) return 'must consist of alphanumerics, "-", "_" or "."';
  if (key === '.' || key === '..') return `must not be "${key}"`;
  if (key.startsWith('..')) return 'must not start with ".."';
  if (key === '__proto__') return 'must not be "__proto__" (JavaScript objects drop it)';
  return undefined;
}
