import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { InputError } from '../../lib/errors.js';
import { type ParsedEvent, parseSecretEvent, rotationRequest, toSyncRequest } from '../../lib/events/index.js';
import { inputErrorOf } from '../support/assertions.js';

const EVENTS_DIR = join(import.meta.dirname, '../../events');
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:demo/app-db-Xk3p9Q';

function load(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(EVENTS_DIR, file), 'utf8')) as Record<string, unknown>;
}

// biome-ignore lint/suspicious/noExplicitAny: variants poke at arbitrary paths of the sample JSON.
type EventJson = Record<string, any>;

/** A deep copy of a sample with `edit` applied, so each malformed variant starts from a real shape. */
function variant(file: string, edit: (event: EventJson) => void): unknown {
  const event: EventJson = structuredClone(load(file));
  edit(event);
  return event;
}

/** The fixture with `detail.eventName` set to `name` parses as ignored: not a change of the live value. */
function expectIgnored(file: string, name: string): void {
  const event = variant(file, (e) => {
    e.detail.eventName = name;
  });
  expect(parseSecretEvent(event)).toEqual({
    kind: 'ignore',
    secretId: ARN,
    reason: `${name}: not a change of the live value`,
  });
}

function parseError(event: unknown): InputError {
  return inputErrorOf(() => parseSecretEvent(event), 'InvalidEvent');
}

/** What an event parses to: exactly this event, or an InvalidEvent whose message is this text or matches this. */
type Outcome = ParsedEvent | { error: string | RegExp };

function expectOutcome(event: unknown, outcome: Outcome): void {
  if (!('error' in outcome)) expect(parseSecretEvent(event)).toEqual(outcome);
  else if (typeof outcome.error === 'string') expect(parseError(event).message).toBe(outcome.error);
  else expect(parseError(event).message).toMatch(outcome.error);
}

/** A variant of a sample: what it shows, the sample, the edit, and what it parses to. */
type VariantCase = [string, string, (event: EventJson) => void, Outcome];

const LABEL = 'secret-label-updated-awscurrent.json';
const PUT = 'cloudtrail-put-secret-value.json';
const DELETE = 'cloudtrail-delete-secret-arn-legacy.json';
const ROTATION = 'service-event-rotation-succeeded.json';

const expected: Record<string, Outcome> = {
  'secret-label-updated-awscurrent.json': {
    kind: 'sync',
    secretId: ARN,
    versionId: '7f3c2a91-5d4e-4b8a-9c21-0e6f4d8b1a37',
    reason: 'Secret Label Updated AWSCURRENT',
  },
  'secret-label-updated-custom-label.json': {
    kind: 'ignore',
    secretId: ARN,
    reason: 'Secret Label Updated CANARY: only AWSCURRENT means a new live value',
  },
  'cloudtrail-put-secret-value.json': {
    kind: 'sync',
    secretId: ARN,
    versionId: '7f3c2a91-5d4e-4b8a-9c21-0e6f4d8b1a37',
    reason: 'PutSecretValue',
  },
  'cloudtrail-put-secret-value-pending.json': {
    kind: 'ignore',
    secretId: ARN,
    reason: 'PutSecretValue staged AWSPENDING (rotation in progress): not live yet',
  },
  'cloudtrail-update-secret-version-stage.json': {
    kind: 'sync',
    secretId: ARN,
    versionId: '2b9e4f1c-8d3a-4e7b-a5c6-0f1d2e3a4b5c',
    reason: 'UpdateSecretVersionStage',
  },
  'service-event-rotation-succeeded.json': { kind: 'sync', secretId: ARN, reason: 'RotationSucceeded' },
  'cloudtrail-delete-secret-arn-legacy.json': { kind: 'delete', secretId: ARN, reason: 'DeleteSecret' },
  'cloudtrail-failed-call-error-code.json': {
    kind: 'ignore',
    reason: 'PutSecretValue failed with AccessDenied: nothing changed',
  },
  'malformed-missing-detail.json': { error: /^invalid Secrets Manager event: "detail" is missing$/ },
};

describe('parseSecretEvent', () => {
  it('has an expectation for every sample in events/', () => {
    const files = readdirSync(EVENTS_DIR).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('parses %s', (file, outcome) => expectOutcome(load(file), outcome));

  describe('Secret Label Updated', () => {
    it('falls back to detail.name when resources is empty', () => {
      const event = variant(LABEL, (e) => {
        e.resources = [];
      });
      expect(parseSecretEvent(event)).toMatchObject({ kind: 'sync', secretId: 'demo/app-db' });
    });

    it.each<VariantCase>([
      [
        'syncs without versionId when the event has none',
        LABEL,
        (e) => {
          delete e.detail.versionId;
        },
        { kind: 'sync', secretId: ARN, reason: 'Secret Label Updated AWSCURRENT' },
      ],
      [
        'rejects a missing labelUpdated',
        LABEL,
        (e) => {
          delete e.detail.labelUpdated;
        },
        { error: 'invalid Secrets Manager event: "detail.labelUpdated" is missing' },
      ],
      [
        'rejects a labelUpdated that is not a string',
        LABEL,
        (e) => {
          e.detail.labelUpdated = ['AWSCURRENT'];
        },
        { error: 'invalid Secrets Manager event: "detail.labelUpdated" must be a string, got an array' },
      ],
      [
        'rejects an AWSCURRENT event that names no secret, listing where it looked',
        LABEL,
        (e) => {
          e.resources = [];
          delete e.detail.name;
        },
        {
          error:
            'invalid Secrets Manager event: Secret Label Updated event names no secret (looked at ' +
            'detail.additionalEventData.SecretId, detail.serviceEventDetails.secretId, detail.responseElements.arn, ' +
            'detail.responseElements.aRN, detail.requestParameters.secretId, resources[0], detail.name)',
        },
      ],
      [
        'ignores a custom label even when no secret is named',
        'secret-label-updated-custom-label.json',
        (e) => {
          e.resources = [];
          delete e.detail.name;
        },
        { kind: 'ignore', reason: 'Secret Label Updated CANARY: only AWSCURRENT means a new live value' },
      ],
    ])('%s', (_, file, edit, outcome) => expectOutcome(variant(file, edit), outcome));
  });

  describe('AWS API Call via CloudTrail', () => {
    it.each(['UpdateSecret', 'RestoreSecret'])('syncs %s', (name) => {
      const event = variant(PUT, (e) => {
        e.detail.eventName = name;
      });
      expect(parseSecretEvent(event)).toEqual({ kind: 'sync', secretId: ARN, reason: name });
    });

    it.each(['RotateSecret', 'CreateSecret', 'TagResource'])('ignores %s', (name) => {
      expectIgnored(PUT, name);
    });

    it('takes versionId from responseElements when present', () => {
      const event = variant(PUT, (e) => {
        e.detail.responseElements.versionId = 'from-response';
      });
      expect(parseSecretEvent(event)).toMatchObject({ versionId: 'from-response' });
    });

    it('ignores a stage move that is not AWSCURRENT', () => {
      const event = variant('cloudtrail-update-secret-version-stage.json', (e) => {
        e.detail.requestParameters.versionStage = 'AWSPENDING';
      });
      expect(parseSecretEvent(event)).toMatchObject({
        kind: 'ignore',
        reason: 'UpdateSecretVersionStage moved AWSPENDING: only AWSCURRENT means a new live value',
      });
    });

    it('prefers responseElements.arn over requestParameters.secretId', () => {
      const event = variant(PUT, (e) => {
        e.detail.requestParameters.secretId = 'other';
      });
      expect(parseSecretEvent(event)).toMatchObject({ secretId: ARN });
    });

    it.each<VariantCase>([
      [
        'ignores a failed call whatever its name, naming the error code',
        DELETE,
        (e) => {
          e.detail.errorCode = 'ResourceNotFoundException';
        },
        {
          kind: 'ignore',
          secretId: ARN,
          reason: 'DeleteSecret failed with ResourceNotFoundException: nothing changed',
        },
      ],
      [
        'uses requestParameters.secretId when responseElements is null',
        DELETE,
        (e) => {
          e.detail.responseElements = null;
        },
        { kind: 'delete', secretId: 'demo/app-db', reason: 'DeleteSecret' },
      ],
      [
        'rejects a delete that names no secret',
        DELETE,
        (e) => {
          e.detail.responseElements = null;
          e.detail.requestParameters = null;
        },
        {
          error:
            /^invalid Secrets Manager event: DeleteSecret event names no secret \(looked at detail\.additionalEventData/,
        },
      ],
      [
        'rejects a missing eventName',
        PUT,
        (e) => {
          delete e.detail.eventName;
        },
        { error: 'invalid Secrets Manager event: "detail.eventName" is missing' },
      ],
      [
        'rejects an eventName that is not a string',
        PUT,
        (e) => {
          e.detail.eventName = 42;
        },
        { error: 'invalid Secrets Manager event: "detail.eventName" must be a non-empty string, got a number' },
      ],
    ])('%s', (_, file, edit, outcome) => expectOutcome(variant(file, edit), outcome));
  });

  describe('AWS Service Event via CloudTrail', () => {
    it.each(['RotationStarted', 'RotationFailed', 'RotationAbandoned'])('ignores %s', (name) => {
      expectIgnored(ROTATION, name);
    });

    it.each<VariantCase>([
      [
        'finds the secret in serviceEventDetails.secretId (seen on RDS-managed secrets)',
        ROTATION,
        (e) => {
          delete e.detail.additionalEventData;
          e.detail.serviceEventDetails = { secretId: ARN };
        },
        { kind: 'sync', secretId: ARN, reason: 'RotationSucceeded' },
      ],
      [
        'rejects RotationSucceeded without a secret id',
        ROTATION,
        (e) => {
          e.detail.additionalEventData = {};
        },
        { error: /^invalid Secrets Manager event: RotationSucceeded event names no secret/ },
      ],
    ])('%s', (_, file, edit, outcome) => expectOutcome(variant(file, edit), outcome));
  });

  describe('envelope', () => {
    it.each([
      ['null', null, 'event must be an object, got null'],
      ['a string', '{"source":"aws.secretsmanager"}', 'event must be an object, got a string'],
      ['an array', [], 'event must be an object, got an array'],
    ])('rejects %s', (_label, event, message) => {
      expect(parseError(event).message).toBe(`invalid Secrets Manager event: ${message}`);
    });

    it('rejects a missing detail-type', () => {
      const event = variant('secret-label-updated-awscurrent.json', (e) => {
        delete e['detail-type'];
      });
      expect(parseError(event).message).toBe('invalid Secrets Manager event: "detail-type" is missing');
    });

    it('rejects a missing source', () => {
      const event = variant('secret-label-updated-awscurrent.json', (e) => {
        delete e.source;
      });
      expect(parseError(event).message).toBe('invalid Secrets Manager event: "source" is missing');
    });

    it('rejects another source without echoing the event', () => {
      const event = variant('secret-label-updated-awscurrent.json', (e) => {
        e.source = 'aws.ssm';
      });
      expect(parseError(event).message).toBe('invalid Secrets Manager event: "source" must be "aws.secretsmanager"');
    });

    it('rejects a detail that is not an object', () => {
      const event = variant('secret-label-updated-awscurrent.json', (e) => {
        e.detail = 'AWSCURRENT';
      });
      expect(parseError(event).message).toBe('invalid Secrets Manager event: "detail" must be an object');
    });

    it('names every envelope problem at once', () => {
      expect(parseError({ source: 'aws.secretsmanager' }).message).toBe(
        'invalid Secrets Manager event: "detail-type" is missing; "detail" is missing',
      );
    });

    it('ignores an unknown detail-type from Secrets Manager', () => {
      const event = variant('secret-label-updated-awscurrent.json', (e) => {
        e['detail-type'] = 'Secret Replicated';
      });
      expect(parseSecretEvent(event)).toEqual({
        kind: 'ignore',
        secretId: ARN,
        reason: 'detail-type "Secret Replicated" is not handled',
      });
    });
  });
});

/** The request both builders give for the Secret Label Updated sample, whose event id becomes the origin. */
const ROTATION_REQUEST = {
  trigger: 'rotation',
  secrets: [ARN],
  versionId: '7f3c2a91-5d4e-4b8a-9c21-0e6f4d8b1a37',
  dryRun: false,
  restart: true,
  origin: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
};

describe('toSyncRequest', () => {
  it('builds a rotation request with the event version and id', () => {
    const parsed = parseSecretEvent(load('secret-label-updated-awscurrent.json'));
    if (parsed.kind === 'ignore') throw new Error('expected sync');
    expect(toSyncRequest(parsed, { eventId: '6a7e8feb-b491-4cf7-a9f1-bf3703467718' })).toEqual(ROTATION_REQUEST);
  });

  it('marks a delete as deleted', () => {
    const parsed = parseSecretEvent(load('cloudtrail-delete-secret-arn-legacy.json'));
    if (parsed.kind === 'ignore') throw new Error('expected delete');
    expect(toSyncRequest(parsed)).toEqual({
      trigger: 'rotation',
      secrets: [ARN],
      deleted: true,
      dryRun: false,
      restart: true,
      origin: 'eventbridge',
    });
  });
});

describe('rotationRequest', () => {
  it('keeps the event id as the origin of the request', () => {
    expect(rotationRequest(load('secret-label-updated-awscurrent.json'))).toEqual(ROTATION_REQUEST);
  });

  it('falls back to the eventbridge origin when the event has no id', () => {
    const event = load('cloudtrail-delete-secret-arn-legacy.json');
    delete event.id;
    expect(rotationRequest(event)).toMatchObject({ deleted: true, origin: 'eventbridge' });
  });

  it("returns the parser's reason and secret for an ignored event", () => {
    expect(rotationRequest(load('secret-label-updated-custom-label.json'))).toEqual({
      ignored: 'Secret Label Updated CANARY: only AWSCURRENT means a new live value',
      secretId: ARN,
    });
    expect(rotationRequest(load('cloudtrail-failed-call-error-code.json'))).toEqual({
      ignored: 'PutSecretValue failed with AccessDenied: nothing changed',
    });
  });

  it('refuses a malformed event as the parser does', () => {
    expect(() => rotationRequest(load('malformed-missing-detail.json'))).toThrow(
      /^invalid Secrets Manager event: "detail" is missing$/,
    );
  });
});
