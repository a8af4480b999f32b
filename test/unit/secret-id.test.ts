import { describe, expect, it } from 'vitest';
import {
  isArnOf,
  isSecretArn,
  mayNameSameSecret,
  nameFromArn,
  partialArnOf,
  refersTo,
} from '../../lib/domain/secret-id.js';

const PREFIX = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:';
const FULL = `${PREFIX}demo/app-db-Xk3p9Q`;
const PARTIAL = `${PREFIX}demo/app-db`;

describe('nameFromArn', () => {
  it.each([
    [FULL, 'demo/app-db'],
    [`${PREFIX}mySecret-a1b2c3`, 'mySecret'],
    [PARTIAL, 'demo/app-db'],
    [`arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:prod/x-AbCdEf`, 'prod/x'],
    [`${PREFIX}abc`, 'abc'],
  ])('reads %s as %s', (arn, name) => {
    expect(nameFromArn(arn)).toBe(name);
  });

  it.each(['demo/app-db', 'arn:aws:ssm:us-east-1:123456789012:parameter/x', PREFIX])(
    'returns undefined for %s',
    (id) => {
      expect(nameFromArn(id)).toBeUndefined();
    },
  );
});

describe('isSecretArn', () => {
  it('tells ARNs from names', () => {
    expect(isSecretArn(FULL)).toBe(true);
    expect(isSecretArn(PARTIAL)).toBe(true);
    expect(isSecretArn('demo/app-db')).toBe(false);
    expect(isSecretArn('arn:aws:s3:::bucket')).toBe(false);
  });
});

describe('mayNameSameSecret (the pre-filter)', () => {
  it.each([
    ['a name against the event name', 'demo/app-db', { name: 'demo/app-db' }],
    ['a name against the event ARN', 'demo/app-db', { arn: FULL }],
    ['a name against a partial ARN', 'demo/app-db', { arn: PARTIAL }],
    ['a full ARN against the same ARN', FULL, { arn: FULL, name: 'demo/app-db' }],
    ['a partial ARN against the full ARN', PARTIAL, { arn: FULL }],
    ['a full ARN against a partial ARN', FULL, { arn: PARTIAL }],
    ['a full ARN against the name only', FULL, { name: 'demo/app-db' }],
    ['a partial ARN against the name only', PARTIAL, { name: 'demo/app-db' }],
    ['a name passed in the arn field (as the caller spelled it)', 'demo/app-db', { arn: 'demo/app-db' }],
  ])('matches %s', (_label, configured, ref) => {
    expect(mayNameSameSecret(configured, ref)).toBe(true);
  });

  it.each([
    ['a name that is only a prefix', 'demo/app', { name: 'demo/app-db', arn: FULL }],
    ['a name that is only a prefix, ARN only', 'demo/app', { arn: FULL }],
    ['a longer name', 'demo/app-db-2', { arn: FULL }],
    ['a parent path', 'demo', { arn: FULL }],
    ['another account', `arn:aws:secretsmanager:us-east-1:999999999999:secret:demo/app-db`, { arn: FULL }],
    ['another region', `arn:aws:secretsmanager:eu-west-1:123456789012:secret:demo/app-db-Xk3p9Q`, { arn: FULL }],
    ['another suffix', `${PREFIX}demo/app-db-Zz9z9Z`, { arn: FULL }],
    ['a partial ARN of a prefix', `${PREFIX}demo/app`, { arn: FULL }],
    ['an empty ref', 'demo/app-db', {}],
    ['a name whose secret was renamed in the event', 'demo/app-db', { name: 'demo/app-db-Xk3p9Q' }],
  ])('does not match %s', (_label, configured, ref) => {
    expect(mayNameSameSecret(configured, ref)).toBe(false);
  });
});

describe('identity on the ARN Secrets Manager reports', () => {
  const db = { arn: `${PREFIX}prod/db-Ab12Cd`, name: 'prod/db' };
  const backup = { arn: `${PREFIX}prod/db-backup-Zy98Xw`, name: 'prod/db-backup' };

  it('builds the partial ARN from the known name', () => {
    expect(partialArnOf(db)).toBe(`${PREFIX}prod/db`);
    expect(partialArnOf(backup)).toBe(`${PREFIX}prod/db-backup`);
    expect(partialArnOf({ arn: `${PREFIX}other-Ab12Cd`, name: 'prod/db' })).toBeUndefined();
  });

  it('takes the full and the partial ARN of a secret for it, and nothing else', () => {
    expect(isArnOf(db.arn, db)).toBe(true);
    expect(isArnOf(`${PREFIX}prod/db`, db)).toBe(true);
    expect(isArnOf(`${PREFIX}prod/db-backup`, db)).toBe(false);
    expect(isArnOf(backup.arn, db)).toBe(false);
    expect(isArnOf(`arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-Ab12Cd`, db)).toBe(false);
  });

  it('never takes the partial ARN of prod/db-backup for prod/db, though the text pre-filter lets it through', () => {
    expect(mayNameSameSecret('prod/db', { arn: `${PREFIX}prod/db-backup` })).toBe(true);
    expect(refersTo(`${PREFIX}prod/db-backup`, db)).toBe(false);
    expect(refersTo(`${PREFIX}prod/db-backup`, backup)).toBe(true);
  });

  it('takes a name for the secret of that name only', () => {
    expect(refersTo('prod/db', db)).toBe(true);
    expect(refersTo('prod/db', backup)).toBe(false);
    expect(refersTo('prod/db-Ab12Cd', db)).toBe(false);
  });
});
