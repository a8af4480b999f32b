import { describe, expect, it } from 'vitest';
import { parseBackfillInput, reconcileRequest } from '../../lib/events/index.js';
import { inputErrorOf } from '../support/assertions.js';

function inputError(input: unknown): string {
  return inputErrorOf(() => parseBackfillInput(input), 'InvalidInput').message;
}

describe('parseBackfillInput', () => {
  it.each([
    ['null', null],
    ['undefined', undefined],
    ['{}', {}],
  ])('reads %s as everything, no dry run, with restarts', (_label, input) => {
    expect(parseBackfillInput(input)).toEqual({ trigger: 'backfill', dryRun: false, restart: true, origin: 'manual' });
  });

  it('keeps every filter and flag, deduplicated and trimmed', () => {
    // Prepare
    const input = {
      secrets: ['demo/app-db', ' demo/app-db ', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:demo/cache'],
      clusters: ['prod-eu'],
      namespaces: ['payments', 'payments-canary'],
      dryRun: true,
      restart: false,
    };

    // Act
    const request = parseBackfillInput(input, { origin: 'cli' });

    // Assess
    expect(request).toEqual({
      trigger: 'backfill',
      secrets: ['demo/app-db', 'arn:aws:secretsmanager:us-east-1:123456789012:secret:demo/cache'],
      clusters: ['prod-eu'],
      namespaces: ['payments', 'payments-canary'],
      dryRun: true,
      restart: false,
      origin: 'cli',
    });
  });

  it('rejects unknown fields, naming them', () => {
    expect(inputError({ secret: ['x'], dryrun: true })).toBe(
      'invalid backfill input: unknown fields "secret", "dryrun" (allowed: secrets, clusters, namespaces, dryRun, restart)',
    );
  });

  it('names the path of a wrong type', () => {
    expect(inputError({ secrets: 'demo/app-db' })).toBe(
      'invalid backfill input: "secrets" must be an array of strings',
    );
    expect(inputError({ secrets: ['a', 3] })).toBe('invalid backfill input: "secrets[1]" must be a string');
    expect(inputError({ dryRun: 'yes' })).toBe('invalid backfill input: "dryRun" must be a boolean');
    expect(inputError({ restart: null })).toBe('invalid backfill input: "restart" must be a boolean');
  });

  it('rejects empty lists, because they would select nothing', () => {
    expect(inputError({ clusters: [] })).toBe(
      'invalid backfill input: "clusters": omit it to mean every cluster; an empty list selects nothing',
    );
  });

  it('rejects empty strings in a list', () => {
    expect(inputError({ namespaces: ['ok', '  '] })).toBe(
      'invalid backfill input: "namespaces[1]": namespaces must not be empty strings',
    );
  });

  it('rejects input that is not an object', () => {
    expect(inputError(['demo/app-db'])).toBe('invalid backfill input: input must be an object');
    expect(inputError('demo/app-db')).toBe('invalid backfill input: input must be an object');
  });

  it('reports every problem at once', () => {
    expect(inputError({ secrets: [], dryRun: 1, force: true })).toBe(
      'invalid backfill input: "secrets": omit it to mean every secret; an empty list selects nothing; ' +
        '"dryRun" must be a boolean; ' +
        'unknown field "force" (allowed: secrets, clusters, namespaces, dryRun, restart)',
    );
  });
});

describe('reconcileRequest', () => {
  it('covers everything and restarts consumers', () => {
    expect(reconcileRequest()).toEqual({ trigger: 'reconcile', dryRun: false, restart: true, origin: 'schedule' });
  });

  it('passes dryRun through', () => {
    expect(reconcileRequest({ dryRun: true })).toMatchObject({ trigger: 'reconcile', dryRun: true });
  });
});
