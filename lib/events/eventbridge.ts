/**
 * Secrets Manager events from EventBridge -> what to do about them. Three families (native `Secret Label Updated`,
 * CloudTrail API calls, CloudTrail service events), each naming the secret in a different place; see
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/secret-event-notifications.html and
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/monitoring-eventbridge.html. Events never carry a value; messages here name fields and ids only.
 */
import * as z from 'zod';
import { fieldPath } from '../domain/field-path.js';
import { InputError } from '../errors.js';

/** The outcome of reading one event: sync a secret, apply a deletion, or do nothing (logged). */
export type ParsedEvent =
  | { kind: 'sync'; secretId: string; versionId?: string; reason: string }
  | { kind: 'delete'; secretId: string; reason: string }
  | { kind: 'ignore'; reason: string; secretId?: string };

const SOURCE = 'aws.secretsmanager';
const AWSCURRENT = 'AWSCURRENT';
const AWSPENDING = 'AWSPENDING';

const SYNC_API_CALLS = new Set(['PutSecretValue', 'UpdateSecret', 'UpdateSecretVersionStage', 'RestoreSecret']);

// Only the envelope is validated strictly; the detail is read field by field because its shape differs per
// family and CloudTrail adds fields over time.
const Envelope = z.object({
  id: z.string().optional(),
  'detail-type': z.string().min(1),
  source: z.string(),
  resources: z.array(z.unknown()).optional(),
  detail: z.record(z.string(), z.unknown()),
});

type Envelope = z.infer<typeof Envelope>;
type Detail = Envelope['detail'];

function invalid(message: string): InputError {
  return new InputError('InvalidEvent', `invalid Secrets Manager event: ${message}`);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function envelopeMessage(error: z.ZodError, event: Record<string, unknown>): string {
  return error.issues
    .map((issue) => {
      const path = fieldPath(issue.path);
      const top = issue.path[0];
      if (typeof top === 'string' && issue.path.length === 1 && event[top] === undefined) return `"${path}" is missing`;
      if (issue.code === 'too_small') return `"${path}" is empty`;
      if (issue.code === 'invalid_type')
        return `"${path}" must be ${issue.expected === 'record' ? 'an object' : `${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`}`;
      return `"${path}" is invalid`;
    })
    .join('; ');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A nested field of the detail as a non-empty string, or undefined (absent, null or another type). */
function str(detail: Detail, ...path: string[]): string | undefined {
  let value: unknown = detail;
  for (const key of path) {
    if (!isRecord(value)) return undefined;
    value = value[key];
  }
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function strings(detail: Detail, ...path: string[]): string[] {
  let value: unknown = detail;
  for (const key of path) {
    if (!isRecord(value)) return [];
    value = value[key];
  }
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Where each family may name the secret, most precise first (service events have no `resources`). */
const SECRET_ID_PATHS: ReadonlyArray<{ label: string; read: (e: Envelope) => string | undefined }> = [
  { label: 'detail.additionalEventData.SecretId', read: (e) => str(e.detail, 'additionalEventData', 'SecretId') },
  { label: 'detail.serviceEventDetails.secretId', read: (e) => str(e.detail, 'serviceEventDetails', 'secretId') },
  { label: 'detail.responseElements.arn', read: (e) => str(e.detail, 'responseElements', 'arn') },
  // CloudTrail spelled it `aRN` in events recorded before February 2024.
  { label: 'detail.responseElements.aRN', read: (e) => str(e.detail, 'responseElements', 'aRN') },
  { label: 'detail.requestParameters.secretId', read: (e) => str(e.detail, 'requestParameters', 'secretId') },
  {
    label: 'resources[0]',
    read: (e) => (typeof e.resources?.[0] === 'string' ? e.resources[0] || undefined : undefined),
  },
];

function findSecretId(event: Envelope, extra: typeof SECRET_ID_PATHS = []): string | undefined {
  for (const candidate of [...SECRET_ID_PATHS, ...extra]) {
    const id = candidate.read(event);
    if (id !== undefined) return id;
  }
  return undefined;
}

function requireSecretId(event: Envelope, what: string, extra: typeof SECRET_ID_PATHS = []): string {
  const id = findSecretId(event, extra);
  if (id !== undefined) return id;
  const looked = [...SECRET_ID_PATHS, ...extra].map((p) => p.label).join(', ');
  throw invalid(`${what} event names no secret (looked at ${looked})`);
}

function withOptionalId(reason: string, secretId: string | undefined): ParsedEvent {
  return secretId === undefined ? { kind: 'ignore', reason } : { kind: 'ignore', reason, secretId };
}

function labelUpdated(event: Envelope): ParsedEvent {
  const label = event.detail.labelUpdated;
  if (label === undefined || label === null) throw invalid('"detail.labelUpdated" is missing');
  if (typeof label !== 'string') throw invalid(`"detail.labelUpdated" must be a string, got ${describeType(label)}`);
  const nameField = [{ label: 'detail.name', read: (e: Envelope) => str(e.detail, 'name') }];
  if (label !== AWSCURRENT) {
    return withOptionalId(
      `Secret Label Updated ${label}: only ${AWSCURRENT} means a new live value`,
      findSecretId(event, nameField),
    );
  }
  const secretId = requireSecretId(event, 'Secret Label Updated', nameField);
  const versionId = str(event.detail, 'versionId');
  const reason = `Secret Label Updated ${AWSCURRENT}`;
  return versionId === undefined ? { kind: 'sync', secretId, reason } : { kind: 'sync', secretId, versionId, reason };
}

function eventName(event: Envelope): string {
  const name = event.detail.eventName;
  if (name === undefined || name === null) throw invalid('"detail.eventName" is missing');
  if (typeof name !== 'string' || name === '') {
    throw invalid(`"detail.eventName" must be a non-empty string, got ${describeType(name)}`);
  }
  return name;
}

/** The version an API call made current, when the call records it. */
function apiCallVersionId(event: Envelope, name: string): string | undefined {
  const fromResponse = str(event.detail, 'responseElements', 'versionId');
  if (fromResponse !== undefined) return fromResponse;
  // PutSecretValue's ClientRequestToken becomes the new VersionId; UpdateSecret's may not (no new value).
  if (name === 'PutSecretValue') return str(event.detail, 'requestParameters', 'clientRequestToken');
  if (name === 'UpdateSecretVersionStage') return str(event.detail, 'requestParameters', 'moveToVersionId');
  return undefined;
}

/** A call CloudTrail recorded with an error code changed nothing: ignored, naming the code. */
function failedCall(event: Envelope, name: string): ParsedEvent | undefined {
  const errorCode = event.detail.errorCode;
  if (errorCode === undefined || errorCode === null) return undefined;
  const code = typeof errorCode === 'string' ? errorCode : describeType(errorCode);
  return withOptionalId(`${name} failed with ${code}: nothing changed`, findSecretId(event));
}

function apiCall(event: Envelope): ParsedEvent {
  const name = eventName(event);
  const failed = failedCall(event, name);
  if (failed !== undefined) return failed;
  if (name === 'DeleteSecret') {
    return { kind: 'delete', secretId: requireSecretId(event, 'DeleteSecret'), reason: name };
  }
  if (!SYNC_API_CALLS.has(name)) return withOptionalId(`${name}: not a change of the live value`, findSecretId(event));

  if (name === 'PutSecretValue') {
    const stages = [
      ...strings(event.detail, 'requestParameters', 'versionStages'),
      ...strings(event.detail, 'responseElements', 'versionStages'),
    ];
    if (stages.includes(AWSPENDING)) {
      return withOptionalId(`${name} staged ${AWSPENDING} (rotation in progress): not live yet`, findSecretId(event));
    }
  }
  if (name === 'UpdateSecretVersionStage') {
    const stage = str(event.detail, 'requestParameters', 'versionStage');
    if (stage !== undefined && stage !== AWSCURRENT) {
      return withOptionalId(`${name} moved ${stage}: only ${AWSCURRENT} means a new live value`, findSecretId(event));
    }
  }
  const secretId = requireSecretId(event, name);
  const versionId = apiCallVersionId(event, name);
  return versionId === undefined
    ? { kind: 'sync', secretId, reason: name }
    : { kind: 'sync', secretId, versionId, reason: name };
}

function serviceEvent(event: Envelope): ParsedEvent {
  const name = eventName(event);
  const failed = failedCall(event, name);
  if (failed !== undefined) return failed;
  if (name !== 'RotationSucceeded')
    return withOptionalId(`${name}: not a change of the live value`, findSecretId(event));
  return { kind: 'sync', secretId: requireSecretId(event, name), reason: name };
}

/**
 * Reads one EventBridge event from `aws.secretsmanager` into sync / delete / ignore.
 * Throws InputError `InvalidEvent` naming the missing or wrong field when the event cannot be understood.
 */
export function parseSecretEvent(event: unknown): ParsedEvent {
  return readSecretEvent(event).parsed;
}

/** As `parseSecretEvent`, with the envelope's `id` (when the event has one) read by the same validation. */
export function readSecretEvent(event: unknown): { parsed: ParsedEvent; eventId?: string } {
  if (!isRecord(event)) throw invalid(`event must be an object, got ${describeType(event)}`);
  const result = Envelope.safeParse(event);
  if (!result.success) throw invalid(envelopeMessage(result.error, event));
  const envelope = result.data;
  const parsed = classify(envelope);
  return envelope.id === undefined ? { parsed } : { parsed, eventId: envelope.id };
}

function classify(envelope: Envelope): ParsedEvent {
  if (envelope.source !== SOURCE) throw invalid(`"source" must be "${SOURCE}"`);

  const detailType = envelope['detail-type'];
  switch (detailType) {
    case 'Secret Label Updated':
      return labelUpdated(envelope);
    case 'AWS API Call via CloudTrail':
      return apiCall(envelope);
    case 'AWS Service Event via CloudTrail':
      return serviceEvent(envelope);
    default:
      // A family added later by AWS (or a rule broader than ours) is not an error: reconcile covers it.
      return withOptionalId(`detail-type "${detailType}" is not handled`, findSecretId(envelope));
  }
}
