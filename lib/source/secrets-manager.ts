/**
 * The Secrets Manager adapter behind the `SecretSource` port. Every read is at AWSCURRENT (never AWSPENDING),
 * nothing is cached, SDK errors become SyncErrors naming the action and the secret id (never the SDK message).
 * Retries are the client's own (`maxAttempts` in its config); this adapter does not retry on top.
 */
import {
  BatchGetSecretValueCommand,
  type BatchGetSecretValueCommandOutput,
  DescribeSecretCommand,
  type DescribeSecretCommandOutput,
  type Filter,
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  ListSecretsCommand,
  type ListSecretsCommandOutput,
  type SecretListEntry,
  SecretsManagerClient,
  type SecretsManagerClientConfig,
  type SecretValueEntry,
} from '@aws-sdk/client-secrets-manager';
import { isRetryableAwsError, safeErrorName } from '../aws/errors.js';
import { refersTo } from '../domain/secret-id.js';
import { SyncError } from '../errors.js';
import { mapLimit } from '../sync/concurrency.js';
import type { SecretFilter, SecretRef, SecretSource, SecretValue, SecretVersions } from '../sync/ports/source.js';
import { type AwsTimeouts, DEFAULT_AWS_TIMEOUTS, sdkRequestHandler } from '../timeouts.js';

/**
 * The Secrets Manager client every entry point uses: our request timeouts (`defaults.timeouts.aws`; the SDK's own
 * default is none) over `config` (endpoint, region, credentials where a caller sets them).
 */
export function createSecretsManagerClient(
  timeouts: Readonly<AwsTimeouts> = DEFAULT_AWS_TIMEOUTS,
  config: SecretsManagerClientConfig = {},
): SecretsManagerClient {
  return new SecretsManagerClient({ ...config, requestHandler: sdkRequestHandler(timeouts) });
}

/** The slice of the SDK client the adapter uses: a real `SecretsManagerClient`, or a fake in tests. */
export type SecretsManagerSender = Pick<SecretsManagerClient, 'send'>;

const AWSCURRENT = 'AWSCURRENT';
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_BatchGetSecretValue.html: up to 20 secrets.
const BATCH_SIZE = 20;
// Per-id GetSecretValue when BatchGetSecretValue is unavailable: a few at a time to stay under the API rate.
const FALLBACK_CONCURRENCY = 4;

type Action = 'GetSecretValue' | 'BatchGetSecretValue' | 'ListSecrets' | 'DescribeSecret';

/** Translates an SDK or network error (or a BatchGetSecretValue `ErrorCode`) into a SyncError for `id`. */
function translate(error: unknown, action: Action, id: string | undefined): SyncError {
  if (error instanceof SyncError) return error;
  const shape: { name?: unknown; code?: unknown } = typeof error === 'object' && error !== null ? error : {};
  const name = safeErrorName(shape.name);
  const code = safeErrorName(shape.code);
  const subject = id === undefined ? '' : ` for secret "${id}"`;
  const options = { cause: error };

  switch (name) {
    case 'ResourceNotFoundException':
      return new SyncError('SecretNotFound', `secret "${id ?? '?'}" not found in Secrets Manager`, options);
    case 'AccessDeniedException':
    case 'AccessDenied':
      return new SyncError(
        'Forbidden',
        `access denied to secretsmanager:${action}${subject} (check the IAM policy and the secret's resource policy)`,
        options,
      );
    case 'InvalidRequestException':
      // GetSecretValue on a secret scheduled for deletion; the AWS text is inspected, never copied.
      if (/marked for deletion/i.test(String((error as { message?: unknown }).message ?? ''))) {
        return new SyncError(
          'SecretNotFound',
          `secret "${id ?? '?'}" is scheduled for deletion in Secrets Manager`,
          options,
        );
      }
      break;
    case 'DecryptionFailure':
      return new SyncError(
        'SourceError',
        `Secrets Manager could not decrypt ${id === undefined ? 'the secret' : `secret "${id}"`} with its KMS key (DecryptionFailure; check kms:Decrypt on the key)`,
        options,
      );
  }
  if (isRetryableAwsError(error)) {
    const what = code ?? name ?? 'network error';
    return new SyncError('SourceError', `Secrets Manager ${action} failed${subject}: ${what} (retryable)`, {
      ...options,
      retryable: true,
    });
  }
  return new SyncError(
    'SourceError',
    `Secrets Manager ${action} failed${subject}: ${name ?? 'unknown error'}`,
    options,
  );
}

function toSecretValue(
  entry: Pick<SecretValueEntry, 'ARN' | 'Name' | 'VersionId' | 'VersionStages' | 'SecretString' | 'SecretBinary'>,
  id: string,
  anyStage = false,
): SecretValue {
  const stages = entry.VersionStages ?? [];
  if (entry.ARN === undefined || entry.Name === undefined || entry.VersionId === undefined) {
    throw new SyncError('SourceError', `Secrets Manager returned secret "${id}" without ARN, name or version id`);
  }
  // Both calls ask for AWSCURRENT; a response without it would mean propagating a version that is not live. A read
  // by version id (a work item's, a rollback's) is of any stage: the caller decides on `versionStages`.
  if (!anyStage && stages.length > 0 && !stages.includes(AWSCURRENT)) {
    throw new SyncError(
      'SourceError',
      `Secrets Manager returned version ${entry.VersionId} of secret "${id}", which is not ${AWSCURRENT}`,
    );
  }
  const value: SecretValue = { arn: entry.ARN, name: entry.Name, versionId: entry.VersionId, versionStages: stages };
  if (entry.SecretString !== undefined) value.secretString = entry.SecretString;
  else if (entry.SecretBinary !== undefined) value.secretBinary = entry.SecretBinary;
  else
    throw new SyncError(
      'SourceError',
      `secret "${id}" has no value at ${anyStage ? `version ${entry.VersionId}` : AWSCURRENT}`,
    );
  return value;
}

function toSecretRef(entry: Pick<SecretListEntry, 'ARN' | 'Name' | 'Tags' | 'DeletedDate'>): SecretRef | undefined {
  if (entry.ARN === undefined || entry.Name === undefined) return undefined;
  const tags: Record<string, string> = {};
  for (const tag of entry.Tags ?? []) if (tag.Key !== undefined) tags[tag.Key] = tag.Value ?? '';
  const ref: SecretRef = { arn: entry.ARN, name: entry.Name, tags };
  if (entry.DeletedDate !== undefined) ref.deletedDate = entry.DeletedDate;
  return ref;
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

// ListSecrets filter values: at most 10, up to 512 characters, a restricted alphabet, and a leading `!` negates.
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_Filter.html
const FILTER_VALUE = /^[a-zA-Z0-9 :_@/+=.-][a-zA-Z0-9 :_@/+=.\-!]{0,511}$/;

/** Server-side filters that can only narrow to a superset of the exact match; the exact match is done here. */
function listFilters(filter: SecretFilter): Filter[] {
  const filters: Filter[] = [];
  if (filter.namePrefix !== undefined && FILTER_VALUE.test(filter.namePrefix)) {
    filters.push({ Key: 'name', Values: [filter.namePrefix] });
  }
  const entries = Object.entries(filter.tags ?? {});
  const keys = entries.map(([key]) => key).filter((key) => FILTER_VALUE.test(key));
  const values = entries.map(([, value]) => value).filter((value) => FILTER_VALUE.test(value));
  if (keys.length > 0) filters.push({ Key: 'tag-key', Values: keys.slice(0, 10) });
  if (values.length > 0) filters.push({ Key: 'tag-value', Values: values.slice(0, 10) });
  return filters;
}

/** AWS matches `name` by prefix per word and tag keys and values independently; this is the exact test. */
function matchesFilter(ref: SecretRef, filter: SecretFilter): boolean {
  if (filter.namePrefix !== undefined && !ref.name.startsWith(filter.namePrefix)) return false;
  return Object.entries(filter.tags ?? {}).every(([key, value]) => ref.tags[key] === value);
}

/** The `SecretSource` port plus the two reads `read` chooses between (exposed for the adapter's own tests). */
export interface SecretsManagerSource extends SecretSource {
  /** GetSecretValue(VersionStage=AWSCURRENT). Throws SyncError (`SecretNotFound`, `SourceError`). */
  getCurrent(id: string): Promise<SecretValue>;
  /** Batched reads (BatchGetSecretValue, 20 per call); each id maps to its value or its own error. */
  getMany(ids: readonly string[]): Promise<Map<string, SecretValue | Error>>;
}

/** Builds the `SecretSource` port over a Secrets Manager client (built once by the entry point). */
export function createSecretsManagerSource(client: SecretsManagerSender): SecretsManagerSource {
  async function getCurrent(id: string): Promise<SecretValue> {
    let output: GetSecretValueCommandOutput;
    try {
      output = await client.send(new GetSecretValueCommand({ SecretId: id, VersionStage: AWSCURRENT }));
    } catch (error) {
      throw translate(error, 'GetSecretValue', id);
    }
    return toSecretValue(output, id);
  }

  async function readVersion(id: string, versionId: string): Promise<SecretValue> {
    let output: GetSecretValueCommandOutput;
    try {
      output = await client.send(new GetSecretValueCommand({ SecretId: id, VersionId: versionId }));
    } catch (error) {
      throw translate(error, 'GetSecretValue', id);
    }
    return toSecretValue(output, id, true);
  }

  /** One BatchGetSecretValue call for ≤ 20 ids; per-secret `Errors` become that id's SyncError. */
  async function batch(ids: readonly string[], results: Map<string, SecretValue | Error>): Promise<void> {
    const entries: SecretValueEntry[] = [];
    const errors: NonNullable<BatchGetSecretValueCommandOutput['Errors']> = [];
    let nextToken: string | undefined;
    do {
      const output = await client.send(
        new BatchGetSecretValueCommand({
          SecretIdList: [...ids],
          ...(nextToken === undefined ? {} : { NextToken: nextToken }),
        }),
      );
      entries.push(...(output.SecretValues ?? []));
      errors.push(...(output.Errors ?? []));
      nextToken = output.NextToken;
    } while (nextToken !== undefined && nextToken !== '');

    const unresolved = new Set(ids);
    // Errors name the id as passed. Anything less than the exact id is left to a single read below: guessing here
    // could hand one secret's error to another.
    for (const error of errors) {
      const id = ids.find((candidate) => candidate === error.SecretId);
      if (id === undefined || !unresolved.has(id)) continue;
      // The message is passed for classification only (e.g. "marked for deletion"); translate never copies it.
      results.set(id, translate({ name: error.ErrorCode, message: error.Message }, 'GetSecretValue', id));
      unresolved.delete(id);
    }
    // Values carry the full ARN and the name: a requested name, full or partial ARN is matched on them exactly.
    for (const entry of entries) {
      if (entry.ARN === undefined || entry.Name === undefined) continue;
      const identity = { arn: entry.ARN, name: entry.Name };
      for (const id of [...unresolved]) {
        if (!refersTo(id, identity)) continue;
        try {
          results.set(id, toSecretValue(entry, id));
        } catch (error) {
          results.set(id, translate(error, 'BatchGetSecretValue', id));
        }
        unresolved.delete(id);
      }
    }
    // An id the batch neither returned nor reported is read on its own rather than guessed at.
    await readEach([...unresolved], results);
  }

  async function readEach(ids: readonly string[], results: Map<string, SecretValue | Error>): Promise<void> {
    await mapLimit(ids, FALLBACK_CONCURRENCY, async (id) => {
      try {
        results.set(id, await getCurrent(id));
      } catch (error) {
        results.set(id, translate(error, 'GetSecretValue', id));
      }
    });
  }

  async function getMany(ids: readonly string[]): Promise<Map<string, SecretValue | Error>> {
    const results = new Map<string, SecretValue | Error>();
    let batchAvailable = true;
    for (const part of chunk([...new Set(ids)], BATCH_SIZE)) {
      if (!batchAvailable) {
        await readEach(part, results);
        continue;
      }
      try {
        await batch(part, results);
      } catch (error) {
        const translated = translate(error, 'BatchGetSecretValue', undefined);
        if (translated.retryable) {
          // Throttled or down: the client already retried; per-id calls would only add load.
          for (const id of part) results.set(id, translate(error, 'BatchGetSecretValue', id));
          continue;
        }
        // Not supported here (older endpoint, emulator) or not allowed by IAM: GetSecretValue per id still works.
        batchAvailable = false;
        await readEach(part, results);
      }
    }
    return results;
  }

  // One secret (the usual rotation) is one GetSecretValue: a batch of one would cost the same call and add its
  // fallback paths for nothing.
  async function read(ids: readonly string[]): Promise<Map<string, SecretValue | Error>> {
    const distinct = [...new Set(ids)];
    if (distinct.length !== 1) return getMany(distinct);
    const results = new Map<string, SecretValue | Error>();
    await readEach(distinct, results);
    return results;
  }

  async function list(filter: SecretFilter): Promise<SecretRef[]> {
    const filters = listFilters(filter);
    const refs: SecretRef[] = [];
    let nextToken: string | undefined;
    do {
      let output: ListSecretsCommandOutput;
      try {
        output = await client.send(
          new ListSecretsCommand({
            MaxResults: 100,
            ...(filters.length > 0 ? { Filters: filters } : {}),
            ...(nextToken === undefined ? {} : { NextToken: nextToken }),
          }),
        );
      } catch (error) {
        throw translate(error, 'ListSecrets', undefined);
      }
      for (const entry of output.SecretList ?? []) {
        const ref = toSecretRef(entry);
        if (ref === undefined || ref.deletedDate !== undefined) continue;
        if (matchesFilter(ref, filter)) refs.push(ref);
      }
      nextToken = output.NextToken;
    } while (nextToken !== undefined && nextToken !== '');
    return refs;
  }

  async function describe(id: string): Promise<SecretRef> {
    let output: DescribeSecretCommandOutput;
    try {
      output = await client.send(new DescribeSecretCommand({ SecretId: id }));
    } catch (error) {
      throw translate(error, 'DescribeSecret', id);
    }
    const ref = toSecretRef(output);
    if (ref === undefined) {
      throw new SyncError('SourceError', `Secrets Manager described secret "${id}" without ARN or name`);
    }
    return ref;
  }

  async function describeOutput(id: string): Promise<DescribeSecretCommandOutput> {
    try {
      return await client.send(new DescribeSecretCommand({ SecretId: id }));
    } catch (error) {
      throw translate(error, 'DescribeSecret', id);
    }
  }

  function labelled(output: DescribeSecretCommandOutput, stage: string): string | undefined {
    const stages = Object.entries(output.VersionIdsToStages ?? {});
    return stages.find(([, labels]) => labels.includes(stage))?.[0];
  }

  function currentOf(output: DescribeSecretCommandOutput): string | undefined {
    return labelled(output, AWSCURRENT);
  }

  async function currentVersionId(id: string): Promise<string | undefined> {
    return currentOf(await describeOutput(id));
  }

  async function describeVersions(id: string): Promise<SecretVersions> {
    const output = await describeOutput(id);
    const ref = toSecretRef(output);
    if (ref === undefined) {
      throw new SyncError('SourceError', `Secrets Manager described secret "${id}" without ARN or name`);
    }
    const current = currentOf(output);
    const previous = labelled(output, 'AWSPREVIOUS');
    return {
      ...ref,
      ...(current === undefined ? {} : { currentVersionId: current }),
      ...(previous === undefined ? {} : { previousVersionId: previous }),
    };
  }

  return { read, readVersion, getCurrent, getMany, list, describe, currentVersionId, describeVersions };
}
