import { randomBytes } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  PutSecretValueCommand,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncError } from '../../lib/errors.js';
import { createSecretsManagerSource, type SecretsManagerSender } from '../../lib/source/secrets-manager.js';
import type { SecretValue } from '../../lib/sync/ports/source.js';
import { secretsManager } from '../support/stack.js';

// moto is shared by every integration file and kept between runs: each run works under its own prefix.
const PREFIX = `it-sm-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

let client: SecretsManagerClient;
const created: string[] = [];

async function createSecret(name: string, value: string, tags: Record<string, string> = {}): Promise<string> {
  const out = await client.send(
    new CreateSecretCommand({
      Name: name,
      SecretString: value,
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
  created.push(name);
  return out.ARN ?? '';
}

/** The real client, with the name of every command it sends recorded. */
function recording(reject?: { command: string; error: Error }): { sender: SecretsManagerSender; sent: string[] } {
  const sent: string[] = [];
  const sender = {
    send: (command: { constructor: { name: string } }) => {
      sent.push(command.constructor.name);
      if (reject?.command === command.constructor.name) return Promise.reject(reject.error);
      return client.send(command as never);
    },
  } as unknown as SecretsManagerSender;
  return { sender, sent };
}

beforeAll(() => {
  client = secretsManager();
});

afterAll(async () => {
  await Promise.allSettled(
    created.map((name) => client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }))),
  );
  client.destroy();
});

describe('Secrets Manager source against moto', () => {
  it('reads the version made current by PutSecretValue, and not a later AWSPENDING one', async () => {
    // Prepare
    const name = `${PREFIX}/rotated`;
    const arn = await createSecret(name, '{"password":"one"}');
    const put = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: '{"password":"two"}' }));
    await client.send(
      new PutSecretValueCommand({
        SecretId: name,
        SecretString: '{"password":"three"}',
        VersionStages: ['AWSPENDING'],
      }),
    );
    const source = createSecretsManagerSource(client);

    // Act
    const byName = await source.getCurrent(name);
    const byArn = await source.getCurrent(arn);

    // Assess
    expect(put.VersionId).toBeDefined();
    expect(byName).toMatchObject({ arn, name, versionId: put.VersionId, secretString: '{"password":"two"}' });
    expect(byName.versionStages).toContain('AWSCURRENT');
    expect(byArn.versionId).toBe(put.VersionId);
  });

  it('translates a missing secret', async () => {
    const error = await createSecretsManagerSource(client)
      .getCurrent(`${PREFIX}/missing`)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncError);
    expect(error).toMatchObject({
      code: 'SecretNotFound',
      message: `secret "${PREFIX}/missing" not found in Secrets Manager`,
    });
  });

  describe('getMany over 25 secrets', () => {
    const names = Array.from({ length: 25 }, (_, i) => `${PREFIX}/many/s${String(i).padStart(2, '0')}`);
    const arns = new Map<string, string>();

    beforeAll(async () => {
      for (const [i, name] of names.entries()) arns.set(name, await createSecret(name, `value-${i}`));
    });

    it('uses BatchGetSecretValue (moto supports it) in 2 calls, mixing names, ARNs and a missing id', async () => {
      // Prepare: half the ids as ARNs, plus one that does not exist.
      const ids = names.map((name, i) => (i % 2 === 0 ? name : (arns.get(name) ?? name)));
      const missing = `${PREFIX}/many/missing`;
      const { sender, sent } = recording();

      // Act
      const results = await createSecretsManagerSource(sender).getMany([...ids, missing]);

      // Assess
      expect(sent).toEqual(['BatchGetSecretValueCommand', 'BatchGetSecretValueCommand']);
      expect(results.size).toBe(26);
      for (const [i, id] of ids.entries()) {
        const value = results.get(id) as SecretValue;
        expect(value.name).toBe(names[i]);
        expect(value.secretString).toBe(`value-${i}`);
        expect(value.versionStages).toContain('AWSCURRENT');
      }
      expect(results.get(missing)).toMatchObject({ code: 'SecretNotFound' });
    });

    it('read() sends one GetSecretValue for one id, BatchGetSecretValue for several, and never throws', async () => {
      // Prepare
      const missing = `${PREFIX}/many/missing`;
      const one = recording();
      const several = recording();
      const absent = recording();

      // Act
      const single = await createSecretsManagerSource(one.sender).read([names[0] as string, names[0] as string]);
      const many = await createSecretsManagerSource(several.sender).read(names.slice(0, 3));
      const gone = await createSecretsManagerSource(absent.sender).read([missing]);

      // Assess
      expect(one.sent).toEqual(['GetSecretValueCommand']);
      expect((single.get(names[0] as string) as SecretValue).secretString).toBe('value-0');
      expect(several.sent).toEqual(['BatchGetSecretValueCommand']);
      expect([...many.values()].map((v) => (v as SecretValue).secretString)).toEqual(['value-0', 'value-1', 'value-2']);
      expect(absent.sent).toEqual(['GetSecretValueCommand']);
      expect(gone.get(missing)).toMatchObject({ code: 'SecretNotFound' });
    });

    it('falls back to GetSecretValue per id when BatchGetSecretValue is refused', async () => {
      // Prepare: an IAM policy without secretsmanager:BatchGetSecretValue, simulated in front of moto.
      const denied = Object.assign(new Error('denied'), { name: 'AccessDeniedException', $fault: 'client' });
      const { sender, sent } = recording({ command: 'BatchGetSecretValueCommand', error: denied });

      // Act
      const results = await createSecretsManagerSource(sender).getMany(names);

      // Assess
      expect(sent.filter((c) => c === 'BatchGetSecretValueCommand')).toHaveLength(1);
      expect(sent.filter((c) => c === 'GetSecretValueCommand')).toHaveLength(25);
      expect(names.map((name) => (results.get(name) as SecretValue).secretString)).toEqual(
        names.map((_, i) => `value-${i}`),
      );
    });
  });

  describe('list', () => {
    beforeAll(async () => {
      await createSecret(`${PREFIX}/app/db`, 'x', { team: 'pay', env: 'prod' });
      await createSecret(`${PREFIX}/app/cache`, 'x', { team: 'pay', env: 'dev' });
      await createSecret(`${PREFIX}/app/crossed`, 'x', { team: 'ops', owner: 'prod' });
      await createSecret(`${PREFIX}/other/app`, 'x', { team: 'pay', env: 'prod' });
      await createSecret(`${PREFIX}/app/retired`, 'x', { team: 'pay', env: 'prod' });
      // Scheduled for deletion (recoverable): must not be listed.
      await client.send(new DeleteSecretCommand({ SecretId: `${PREFIX}/app/retired`, RecoveryWindowInDays: 7 }));
    });

    it('lists by name prefix', async () => {
      const refs = await createSecretsManagerSource(client).list({ namePrefix: `${PREFIX}/app/` });
      expect(refs.map((r) => r.name).sort()).toEqual([
        `${PREFIX}/app/cache`,
        `${PREFIX}/app/crossed`,
        `${PREFIX}/app/db`,
      ]);
    });

    it('lists by prefix and exact tag pairs', async () => {
      const refs = await createSecretsManagerSource(client).list({
        namePrefix: `${PREFIX}/`,
        tags: { team: 'pay', env: 'prod' },
      });
      expect(refs.map((r) => r.name).sort()).toEqual([`${PREFIX}/app/db`, `${PREFIX}/other/app`]);
      expect(refs[0]?.tags).toEqual({ team: 'pay', env: 'prod' });
    });

    it('describes a secret with its tags', async () => {
      const ref = await createSecretsManagerSource(client).describe(`${PREFIX}/app/db`);
      expect(ref).toMatchObject({ name: `${PREFIX}/app/db`, tags: { team: 'pay', env: 'prod' } });
      expect(ref.arn).toMatch(/^arn:aws:secretsmanager:us-east-1:\d{12}:secret:.*\/app\/db-[A-Za-z0-9]{6}$/);
    });
  });
});
