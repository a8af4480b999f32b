import {
  BatchGetSecretValueCommand,
  DecryptionFailure,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InternalServiceError,
  InvalidRequestException,
  ListSecretsCommand,
  ResourceNotFoundException,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { createSecretsManagerSource, type SecretsManagerSender } from '../../lib/source/secrets-manager.js';
import type { SecretValue } from '../../lib/sync/ports/source.js';
import { rejection } from '../support/assertions.js';

const PREFIX = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:';
// Stands in for a value; no error message may ever contain it.
const VALUE = '{"password":"s3cr3t-canary"}';
const SDK_MESSAGE = 'sdk-message-canary';

type Handler = (command: object) => unknown;

/** A fake client: records every command and answers through `handler` (throw to simulate an SDK error). */
function fakeClient(handler: Handler) {
  const calls: Array<{ command: string; input: Record<string, unknown> }> = [];
  const client = {
    send: async (command: { input: Record<string, unknown> }) => {
      calls.push({ command: command.constructor.name, input: structuredClone(command.input) });
      return handler(command);
    },
  } as unknown as SecretsManagerSender;
  return { client, calls };
}

function arnOf(name: string): string {
  return `${PREFIX}${name}-AbC123`;
}

function entry(name: string, versionId = `v-${name}`) {
  return { ARN: arnOf(name), Name: name, VersionId: versionId, VersionStages: ['AWSCURRENT'], SecretString: VALUE };
}

function sdkError(name: string, status: number, fault: 'client' | 'server' = 'client'): Error {
  return new SecretsManagerServiceException({
    name,
    $fault: fault,
    $metadata: { httpStatusCode: status },
    message: SDK_MESSAGE,
  });
}

function assertNoLeak(error: Error): void {
  expect(error.message).not.toContain('s3cr3t-canary');
  expect(error.message).not.toContain(SDK_MESSAGE);
}

describe('createSecretsManagerSource', () => {
  describe('getCurrent', () => {
    it('reads the AWSCURRENT stage and maps the value', async () => {
      // Prepare
      const { client, calls } = fakeClient(() => entry('demo/app-db', 'v2'));
      const source = createSecretsManagerSource(client);

      // Act
      const value = await source.getCurrent('demo/app-db');

      // Assess
      expect(calls).toEqual([
        { command: 'GetSecretValueCommand', input: { SecretId: 'demo/app-db', VersionStage: 'AWSCURRENT' } },
      ]);
      expect(value).toEqual({
        arn: arnOf('demo/app-db'),
        name: 'demo/app-db',
        versionId: 'v2',
        versionStages: ['AWSCURRENT'],
        secretString: VALUE,
      });
    });

    it('maps a binary secret', async () => {
      const bytes = new Uint8Array([1, 2, 3]);
      const { client } = fakeClient(() => ({ ...entry('bin'), SecretString: undefined, SecretBinary: bytes }));
      const value = await createSecretsManagerSource(client).getCurrent('bin');
      expect(value.secretBinary).toEqual(bytes);
      expect(value.secretString).toBeUndefined();
    });

    it('refuses a version that is not AWSCURRENT', async () => {
      const { client } = fakeClient(() => ({ ...entry('demo/app-db', 'v3'), VersionStages: ['AWSPENDING'] }));
      const error = await rejection(createSecretsManagerSource(client).getCurrent('demo/app-db'));
      expect(error.message).toBe(
        'Secrets Manager returned version v3 of secret "demo/app-db", which is not AWSCURRENT',
      );
      assertNoLeak(error);
    });

    it.each([
      [
        'ResourceNotFoundException',
        new ResourceNotFoundException({ $metadata: { httpStatusCode: 400 }, message: SDK_MESSAGE }),
        'SecretNotFound',
        false,
        'secret "demo/app-db" not found in Secrets Manager',
      ],
      [
        'AccessDeniedException',
        sdkError('AccessDeniedException', 400),
        'Forbidden',
        false,
        'access denied to secretsmanager:GetSecretValue for secret "demo/app-db" (check the IAM policy and the secret\'s resource policy)',
      ],
      [
        'DecryptionFailure',
        new DecryptionFailure({ $metadata: { httpStatusCode: 400 }, message: SDK_MESSAGE }),
        'SourceError',
        false,
        'Secrets Manager could not decrypt secret "demo/app-db" with its KMS key (DecryptionFailure; check kms:Decrypt on the key)',
      ],
      [
        'InvalidRequestException',
        new InvalidRequestException({ $metadata: { httpStatusCode: 400 }, message: SDK_MESSAGE }),
        'SourceError',
        false,
        'Secrets Manager GetSecretValue failed for secret "demo/app-db": InvalidRequestException',
      ],
      [
        'ThrottlingException',
        sdkError('ThrottlingException', 400),
        'SourceError',
        true,
        'Secrets Manager GetSecretValue failed for secret "demo/app-db": ThrottlingException (retryable)',
      ],
      [
        'InternalServiceError',
        new InternalServiceError({ $metadata: { httpStatusCode: 500 }, message: SDK_MESSAGE }),
        'SourceError',
        true,
        'Secrets Manager GetSecretValue failed for secret "demo/app-db": InternalServiceError (retryable)',
      ],
      [
        'an unmodelled 503',
        sdkError('ServiceUnavailable', 503, 'server'),
        'SourceError',
        true,
        'Secrets Manager GetSecretValue failed for secret "demo/app-db": ServiceUnavailable (retryable)',
      ],
      [
        'a reset connection',
        Object.assign(new Error(SDK_MESSAGE), { code: 'ECONNRESET' }),
        'SourceError',
        true,
        'Secrets Manager GetSecretValue failed for secret "demo/app-db": ECONNRESET (retryable)',
      ],
      [
        'a socket timeout',
        Object.assign(new Error(SDK_MESSAGE), { name: 'TimeoutError' }),
        'SourceError',
        true,
        'Secrets Manager GetSecretValue failed for secret "demo/app-db": TimeoutError (retryable)',
      ],
    ])('translates %s', async (_label, thrown, code, retryable, message) => {
      // Prepare
      const { client, calls } = fakeClient(() => {
        throw thrown;
      });

      // Act
      const error = await rejection(createSecretsManagerSource(client).getCurrent('demo/app-db'));

      // Assess
      expect(error.code).toBe(code);
      expect(error.retryable).toBe(retryable);
      expect(error.message).toBe(message);
      expect(error.cause).toBe(thrown);
      assertNoLeak(error);
      // The client retries by itself (maxAttempts); the adapter calls once.
      expect(calls).toHaveLength(1);
    });
  });

  describe('getMany', () => {
    /** Answers BatchGetSecretValue from `names` (ids are names here) and GetSecretValue likewise. */
    function store(names: Set<string>) {
      return (command: object) => {
        if (command instanceof BatchGetSecretValueCommand) {
          const ids = command.input.SecretIdList ?? [];
          return {
            SecretValues: ids.filter((id) => names.has(id)).map((id) => entry(id)),
            Errors: ids
              .filter((id) => !names.has(id))
              .map((id) => ({ SecretId: id, ErrorCode: 'ResourceNotFoundException', Message: SDK_MESSAGE })),
          };
        }
        if (command instanceof GetSecretValueCommand) {
          const id = command.input.SecretId ?? '';
          if (!names.has(id)) throw new ResourceNotFoundException({ $metadata: {}, message: SDK_MESSAGE });
          return entry(id);
        }
        throw new Error(`unexpected ${command.constructor.name}`);
      };
    }

    it('reads 45 ids in batches of 20, 20 and 5', async () => {
      // Prepare
      const ids = Array.from({ length: 45 }, (_, i) => `app/s${i}`);
      const { client, calls } = fakeClient(store(new Set(ids)));

      // Act
      const results = await createSecretsManagerSource(client).getMany(ids);

      // Assess
      expect(calls.map((c) => c.command)).toEqual(Array(3).fill('BatchGetSecretValueCommand'));
      expect(calls.map((c) => c.input.SecretIdList)).toEqual([ids.slice(0, 20), ids.slice(20, 40), ids.slice(40)]);
      expect([...results.keys()]).toEqual(ids);
      expect((results.get('app/s44') as SecretValue).versionId).toBe('v-app/s44');
    });

    it('never asks for another stage than AWSCURRENT', async () => {
      const { client, calls } = fakeClient(() => {
        throw sdkError('UnknownOperationException', 400);
      });
      await createSecretsManagerSource(client).getMany(['a', 'b']);
      expect(JSON.stringify(calls)).not.toContain('AWSPENDING');
      for (const call of calls.filter((c) => c.command === 'GetSecretValueCommand')) {
        expect(call.input.VersionStage).toBe('AWSCURRENT');
      }
    });

    it("maps each per-secret error to that secret's SyncError", async () => {
      // Prepare
      const { client } = fakeClient(() => ({
        SecretValues: [entry('ok')],
        Errors: [
          { SecretId: 'gone', ErrorCode: 'ResourceNotFoundException', Message: SDK_MESSAGE },
          { SecretId: 'locked', ErrorCode: 'AccessDeniedException', Message: SDK_MESSAGE },
          { SecretId: 'kms', ErrorCode: 'DecryptionFailure', Message: SDK_MESSAGE },
          {
            SecretId: 'retired',
            ErrorCode: 'InvalidRequestException',
            Message: "You can't perform this operation on the secret because it was marked for deletion.",
          },
        ],
      }));

      // Act
      const results = await createSecretsManagerSource(client).getMany(['ok', 'gone', 'locked', 'kms', 'retired']);

      // Assess
      expect(results.get('ok')).toMatchObject({ name: 'ok', versionId: 'v-ok' });
      expect(results.get('gone')).toMatchObject({
        code: 'SecretNotFound',
        message: 'secret "gone" not found in Secrets Manager',
      });
      expect(results.get('locked')).toMatchObject({ code: 'Forbidden' });
      expect((results.get('locked') as Error).message).toContain('secretsmanager:GetSecretValue for secret "locked"');
      expect(results.get('kms')).toMatchObject({ code: 'SourceError' });
      expect((results.get('kms') as Error).message).toContain('KMS');
      expect(results.get('retired')).toMatchObject({
        code: 'SecretNotFound',
        message: 'secret "retired" is scheduled for deletion in Secrets Manager',
      });
      for (const value of results.values()) if (value instanceof Error) assertNoLeak(value);
    });

    it('matches values to ids given as names, full ARNs or partial ARNs, once per distinct id', async () => {
      // Prepare
      const { client, calls } = fakeClient(() => ({ SecretValues: [entry('a'), entry('b/c'), entry('d')] }));
      const ids = ['a', arnOf('b/c'), `${PREFIX}d`, 'a'];

      // Act
      const results = await createSecretsManagerSource(client).getMany(ids);

      // Assess
      expect(calls[0]?.input.SecretIdList).toEqual(['a', arnOf('b/c'), `${PREFIX}d`]);
      expect([...results.entries()].map(([id, v]) => [id, (v as SecretValue).name])).toEqual([
        ['a', 'a'],
        [arnOf('b/c'), 'b/c'],
        [`${PREFIX}d`, 'd'],
      ]);
    });

    it("never hands one secret's value or error to a look-alike id (prod/db vs prod/db-backup's partial ARN)", async () => {
      // Prepare: the batch reports an error for an id it was not given in that form, and only db-backup's value.
      const { client, calls } = fakeClient((command) =>
        command instanceof BatchGetSecretValueCommand
          ? {
              SecretValues: [entry('prod/db-backup')],
              Errors: [{ SecretId: `${PREFIX}prod/db-backup`, ErrorCode: 'ResourceNotFoundException' }],
            }
          : entry('prod/db'),
      );

      // Act
      const results = await createSecretsManagerSource(client).getMany(['prod/db', arnOf('prod/db-backup')]);

      // Assess
      expect(results.get(arnOf('prod/db-backup'))).toMatchObject({ name: 'prod/db-backup' });
      expect(results.get('prod/db')).toMatchObject({ name: 'prod/db' });
      expect(calls.map((c) => c.command)).toEqual(['BatchGetSecretValueCommand', 'GetSecretValueCommand']);
    });

    it('reads an id the batch neither returned nor reported on its own', async () => {
      const { client, calls } = fakeClient((command) =>
        command instanceof BatchGetSecretValueCommand ? { SecretValues: [entry('a')] } : entry('b'),
      );
      const results = await createSecretsManagerSource(client).getMany(['a', 'b']);
      expect(calls.map((c) => c.command)).toEqual(['BatchGetSecretValueCommand', 'GetSecretValueCommand']);
      expect(results.get('b')).toMatchObject({ name: 'b' });
    });

    it('refuses a batch entry that is not AWSCURRENT, for that id only', async () => {
      const { client } = fakeClient(() => ({
        SecretValues: [entry('a'), { ...entry('b'), VersionStages: ['AWSPENDING'] }],
      }));
      const results = await createSecretsManagerSource(client).getMany(['a', 'b']);
      expect(results.get('a')).toMatchObject({ name: 'a' });
      expect(results.get('b')).toMatchObject({ code: 'SourceError' });
    });

    it.each([
      ['unsupported', sdkError('UnknownOperationException', 400)],
      ['not allowed by IAM', sdkError('AccessDeniedException', 400)],
    ])('falls back to GetSecretValue per id when BatchGetSecretValue is %s', async (_label, thrown) => {
      // Prepare
      const names = Array.from({ length: 25 }, (_, i) => `s${i}`);
      const present = new Set(names.slice(0, 24));
      const answer = store(present);
      const { client, calls } = fakeClient((command) => {
        if (command instanceof BatchGetSecretValueCommand) throw thrown;
        return answer(command);
      });

      // Act
      const results = await createSecretsManagerSource(client).getMany(names);

      // Assess: one failed batch, then no more batches; every id read at AWSCURRENT.
      expect(calls.filter((c) => c.command === 'BatchGetSecretValueCommand')).toHaveLength(1);
      const gets = calls.filter((c) => c.command === 'GetSecretValueCommand');
      expect(gets.map((c) => c.input.SecretId).sort()).toEqual([...names].sort());
      expect(gets.every((c) => c.input.VersionStage === 'AWSCURRENT')).toBe(true);
      expect(results.size).toBe(25);
      expect(results.get('s0')).toMatchObject({ name: 's0' });
      expect(results.get('s24')).toMatchObject({ code: 'SecretNotFound' });
    });

    it('gives every id of a throttled batch a retryable error without extra calls', async () => {
      const { client, calls } = fakeClient(() => {
        throw sdkError('ThrottlingException', 400);
      });
      const results = await createSecretsManagerSource(client).getMany(['a', 'b']);
      expect(calls).toHaveLength(1);
      for (const id of ['a', 'b']) {
        expect(results.get(id)).toMatchObject({ code: 'SourceError', retryable: true });
        expect((results.get(id) as Error).message).toContain(`"${id}"`);
      }
    });

    it('returns an empty map for no ids without calling AWS', async () => {
      const { client, calls } = fakeClient(() => ({}));
      expect((await createSecretsManagerSource(client).getMany([])).size).toBe(0);
      expect(calls).toHaveLength(0);
    });
  });

  describe('list', () => {
    const listed = [
      { ARN: arnOf('app/db'), Name: 'app/db', Tags: [{ Key: 'team', Value: 'pay' }] },
      // AWS matches `name` per word: "app" also finds "legacy/app".
      { ARN: arnOf('legacy/app'), Name: 'legacy/app', Tags: [{ Key: 'team', Value: 'pay' }] },
      // tag-key and tag-value match independently on AWS: this one has the key and the value on different tags.
      {
        ARN: arnOf('app/crossed'),
        Name: 'app/crossed',
        Tags: [
          { Key: 'team', Value: 'ops' },
          { Key: 'owner', Value: 'pay' },
        ],
      },
      { ARN: arnOf('app/gone'), Name: 'app/gone', Tags: [{ Key: 'team', Value: 'pay' }], DeletedDate: new Date() },
      { ARN: arnOf('app/cache'), Name: 'app/cache', Tags: [{ Key: 'team', Value: 'pay' }] },
    ];

    it('filters on AWS, pages through all results, then matches exactly', async () => {
      // Prepare
      const { client, calls } = fakeClient((command) => {
        if (!(command instanceof ListSecretsCommand)) throw new Error('unexpected');
        return command.input.NextToken === undefined
          ? { SecretList: listed.slice(0, 3), NextToken: 'page-2' }
          : { SecretList: listed.slice(3) };
      });

      // Act
      const refs = await createSecretsManagerSource(client).list({ namePrefix: 'app', tags: { team: 'pay' } });

      // Assess
      expect(calls.map((c) => c.input)).toEqual([
        {
          MaxResults: 100,
          Filters: [
            { Key: 'name', Values: ['app'] },
            { Key: 'tag-key', Values: ['team'] },
            { Key: 'tag-value', Values: ['pay'] },
          ],
        },
        {
          MaxResults: 100,
          Filters: [
            { Key: 'name', Values: ['app'] },
            { Key: 'tag-key', Values: ['team'] },
            { Key: 'tag-value', Values: ['pay'] },
          ],
          NextToken: 'page-2',
        },
      ]);
      expect(refs).toEqual([
        { arn: arnOf('app/db'), name: 'app/db', tags: { team: 'pay' } },
        { arn: arnOf('app/cache'), name: 'app/cache', tags: { team: 'pay' } },
      ]);
    });

    it('lists everything without filters', async () => {
      const { client, calls } = fakeClient(() => ({ SecretList: listed }));
      const refs = await createSecretsManagerSource(client).list({});
      expect(calls[0]?.input).toEqual({ MaxResults: 100 });
      expect(refs.map((r) => r.name)).toEqual(['app/db', 'legacy/app', 'app/crossed', 'app/cache']);
    });

    it('keeps values AWS filters cannot take out of the request and matches them here', async () => {
      const { client, calls } = fakeClient(() => ({
        SecretList: [{ ARN: arnOf('x'), Name: 'x', Tags: [{ Key: 'cost#center', Value: 'a,b' }] }],
      }));
      const refs = await createSecretsManagerSource(client).list({ tags: { 'cost#center': 'a,b' } });
      expect(calls[0]?.input).toEqual({ MaxResults: 100 });
      expect(refs.map((r) => r.name)).toEqual(['x']);
    });

    it('translates a failure', async () => {
      const { client } = fakeClient(() => {
        throw sdkError('AccessDeniedException', 400);
      });
      const error = await rejection(createSecretsManagerSource(client).list({ namePrefix: 'app/' }));
      expect(error.code).toBe('Forbidden');
      expect(error.message).toContain('secretsmanager:ListSecrets');
    });
  });

  describe('readVersion', () => {
    it('reads one version by id whatever its stage (AWSPREVIOUS, no label), keeping its stages for the caller', async () => {
      // Prepare
      const { client, calls } = fakeClient(() => ({ ...entry('a', 'v-old'), VersionStages: ['AWSPREVIOUS'] }));

      // Act
      const value = await createSecretsManagerSource(client).readVersion('a', 'v-old');

      // Assess
      expect(calls).toEqual([{ command: 'GetSecretValueCommand', input: { SecretId: 'a', VersionId: 'v-old' } }]);
      expect(value).toMatchObject({ versionId: 'v-old', versionStages: ['AWSPREVIOUS'], secretString: VALUE });
    });
  });

  describe('describe', () => {
    it('returns identity, tags and the deletion date', async () => {
      const deleted = new Date('2025-04-01T00:00:00Z');
      const { client, calls } = fakeClient((command) => {
        if (!(command instanceof DescribeSecretCommand)) throw new Error('unexpected');
        return { ARN: arnOf('a'), Name: 'a', Tags: [{ Key: 'k', Value: 'v' }], DeletedDate: deleted };
      });
      const ref = await createSecretsManagerSource(client).describe('a');
      expect(calls).toEqual([{ command: 'DescribeSecretCommand', input: { SecretId: 'a' } }]);
      expect(ref).toEqual({ arn: arnOf('a'), name: 'a', tags: { k: 'v' }, deletedDate: deleted });
    });

    it('throws SecretNotFound for a missing secret', async () => {
      const { client } = fakeClient(() => {
        throw new ResourceNotFoundException({ $metadata: {}, message: SDK_MESSAGE });
      });
      const error = await rejection(createSecretsManagerSource(client).describe('nope'));
      expect(error.code).toBe('SecretNotFound');
      expect(error.message).toBe('secret "nope" not found in Secrets Manager');
    });
  });

  describe('describeVersions', () => {
    it('returns identity and the AWSCURRENT and AWSPREVIOUS version ids from one DescribeSecret, reading no value', async () => {
      // Prepare
      const { client, calls } = fakeClient((command) => {
        if (!(command instanceof DescribeSecretCommand)) throw new Error('unexpected');
        return {
          ARN: arnOf('a'),
          Name: 'a',
          VersionIdsToStages: { 'v-old': ['AWSPREVIOUS'], 'v-new': ['AWSCURRENT'], 'v-next': ['AWSPENDING'] },
        };
      });

      // Act
      const described = await createSecretsManagerSource(client).describeVersions('a');

      // Assess
      expect(calls).toEqual([{ command: 'DescribeSecretCommand', input: { SecretId: 'a' } }]);
      expect(described).toEqual({
        arn: arnOf('a'),
        name: 'a',
        tags: {},
        currentVersionId: 'v-new',
        previousVersionId: 'v-old',
      });
    });

    it('leaves the version out when no version is labelled AWSCURRENT, and translates failures', async () => {
      // Prepare
      const bare = fakeClient(() => ({ ARN: arnOf('a'), Name: 'a', VersionIdsToStages: { v1: ['AWSPENDING'] } }));
      const denied = fakeClient(() => {
        throw sdkError('AccessDeniedException', 400);
      });

      // Act
      const described = await createSecretsManagerSource(bare.client).describeVersions('a');
      const error = await rejection(createSecretsManagerSource(denied.client).describeVersions('a'));

      // Assess
      expect(described).not.toHaveProperty('currentVersionId');
      expect(error.code).toBe('Forbidden');
      expect(error.message).toContain('secretsmanager:DescribeSecret');
      assertNoLeak(error);
    });
  });
});
