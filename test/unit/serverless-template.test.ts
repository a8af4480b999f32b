/**
 * The deployment description: the IAM generator (scripts/iam-from-config.cjs), the VPC parameters, and the
 * CloudFormation template that `npm run package` (osls, offline) generates from serverless.yml.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/index.js';
import { generateStatements, type IamStatement, renderArn, statementsForFile } from '../../scripts/iam-from-config.cjs';
import { vpcFromParams } from '../../scripts/serverless-vpc.cjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const exampleConfig = join(root, 'examples', 'eks-secret-sync.yaml');
const templatePath = join(root, '.serverless', 'cloudformation-template-update-stack.json');

const env = { partition: 'aws', region: 'eu-west-1', account: '111111111111' };

/** Statements with every ARN rendered as a string, for readable assertions. */
function rendered(statements: IamStatement[]) {
  return statements.map((s) => ({
    ...s,
    Resource: s.Resource === '*' ? '*' : s.Resource.map((r) => renderArn(r, env)),
  }));
}

function bySid(statements: ReturnType<typeof rendered>, sid: string) {
  const found = statements.find((s) => s.Sid === sid);
  if (found === undefined) throw new Error(`no statement ${sid} in ${JSON.stringify(statements)}`);
  return found;
}

const oneCluster = { c1: { eks: { name: 'c1', region: 'eu-west-1' } } };
const target = [{ clusters: ['c1'], namespaces: ['ns'] }];

describe('generateStatements', () => {
  it('scopes a configured secret name to its ARN with the six-character suffix wildcard', () => {
    // Prepare
    const config = { clusters: oneCluster, syncs: [{ source: { secret: 'prod/db' }, targets: target }] };

    // Act
    const statements = rendered(generateStatements(config));

    // Assess
    const read = bySid(statements, 'ReadConfiguredSecrets');
    expect(read.Action).toEqual(['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret']);
    expect(read.Resource).toEqual(['arn:aws:secretsmanager:eu-west-1:111111111111:secret:prod/db-??????']);
    expect(read.Condition).toBeUndefined();
  });

  it('keeps a full secret ARN and completes a partial one', () => {
    const full = 'arn:aws:secretsmanager:us-east-1:222222222222:secret:shared/api-AbC123';
    const partial = 'arn:aws:secretsmanager:us-east-1:222222222222:secret:shared/key';
    const config = {
      clusters: oneCluster,
      syncs: [
        { source: { secret: full }, targets: target },
        { source: { secret: partial }, targets: target },
      ],
    };

    const read = bySid(rendered(generateStatements(config)), 'ReadConfiguredSecrets');

    expect(read.Resource).toEqual([full, `${full}-??????`, `${partial}-??????`]);
  });

  it('turns a name prefix into a prefix wildcard and deduplicates repeated sources', () => {
    const config = {
      clusters: oneCluster,
      syncs: [
        { source: { namePrefix: 'prod/shared/' }, targets: target },
        { source: { namePrefix: 'prod/shared/' }, targets: target },
      ],
    };

    const read = bySid(rendered(generateStatements(config)), 'ReadConfiguredSecrets');

    expect(read.Resource).toEqual(['arn:aws:secretsmanager:eu-west-1:111111111111:secret:prod/shared/*']);
  });

  it('gives each tag selector its own statement with a ResourceTag condition', () => {
    const config = {
      clusters: oneCluster,
      syncs: [
        { source: { secret: 'plain' }, targets: target },
        { source: { tags: { team: 'a', sync: 'on' } }, targets: target },
        { source: { namePrefix: 'b/', tags: { team: 'b' } }, targets: target },
      ],
    };

    const statements = rendered(generateStatements(config));

    expect(bySid(statements, 'ReadTaggedSecrets1')).toMatchObject({
      Resource: ['arn:aws:secretsmanager:eu-west-1:111111111111:secret:*'],
      Condition: { StringEquals: { 'secretsmanager:ResourceTag/sync': 'on', 'secretsmanager:ResourceTag/team': 'a' } },
    });
    expect(bySid(statements, 'ReadTaggedSecrets2')).toMatchObject({
      Resource: ['arn:aws:secretsmanager:eu-west-1:111111111111:secret:b/*'],
      Condition: { StringEquals: { 'secretsmanager:ResourceTag/team': 'b' } },
    });
    // The tag-scoped resources never leak into the unconditioned statement.
    expect(bySid(statements, 'ReadConfiguredSecrets').Resource).toEqual([
      'arn:aws:secretsmanager:eu-west-1:111111111111:secret:plain-??????',
    ]);
  });

  it('uses * only for ListSecrets and BatchGetSecretValue', () => {
    const statements = rendered(statementsForFile(exampleConfig));

    const wildcard = statements.filter((s) => s.Resource === '*');
    expect(wildcard).toEqual([
      {
        Sid: 'DiscoverSecrets',
        Effect: 'Allow',
        Action: ['secretsmanager:ListSecrets', 'secretsmanager:BatchGetSecretValue'],
        Resource: '*',
      },
    ]);
  });

  it('grants DescribeCluster on same-account clusters and AssumeRole on the configured roles only', () => {
    const role = 'arn:aws:iam::222222222222:role/sync-access';
    const config = {
      clusters: {
        a: { eks: { name: 'alpha', region: 'eu-west-1' } },
        b: { eks: { name: 'beta', region: 'us-east-1', roleArn: role, externalId: 'x1' } },
        c: { eks: { name: 'gamma', region: 'us-east-2', roleArn: role } },
        local: { kubeconfig: { path: '~/.kube/config', context: 'kind-dev' } },
      },
      syncs: [{ source: { secret: 's' }, targets: [{ clusters: ['a'], namespaces: ['ns'] }] }],
    };

    const statements = rendered(generateStatements(config));

    expect(bySid(statements, 'DescribeClusters')).toMatchObject({
      Action: ['eks:DescribeCluster'],
      Resource: ['arn:aws:eks:eu-west-1:111111111111:cluster/alpha'],
    });
    expect(bySid(statements, 'AssumeClusterRoles')).toMatchObject({ Action: ['sts:AssumeRole'], Resource: [role] });
  });

  it('omits AssumeRole without cross-account roles and kms:Decrypt without keys', () => {
    const config = { clusters: oneCluster, syncs: [{ source: { secret: 's' }, targets: target }] };

    const actions = generateStatements(config).flatMap((s) => s.Action);

    expect(actions).not.toContain('sts:AssumeRole');
    expect(actions).not.toContain('kms:Decrypt');
  });

  it('allows kms:Decrypt on the given keys only through Secrets Manager', () => {
    const key = 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const config = { clusters: oneCluster, syncs: [{ source: { secret: 's' }, targets: target }] };

    const statements = rendered(generateStatements(config, { kmsKeyArns: [key, key] }));

    expect(bySid(statements, 'DecryptSecrets')).toEqual({
      Sid: 'DecryptSecrets',
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: [key],
      Condition: { StringLike: { 'kms:ViaService': 'secretsmanager.*.amazonaws.com' } },
    });
  });

  it('rejects a malformed KMS key ARN, an empty configuration and a source without a selector', () => {
    const valid = { clusters: oneCluster, syncs: [{ source: { secret: 's' }, targets: target }] };

    expect(() => generateStatements(valid, { kmsKeyArns: ['alias/mine'] })).toThrow(/kmsKeyArns: not a KMS key ARN/);
    expect(() => generateStatements({ clusters: oneCluster, syncs: [] })).toThrow(/syncs: must list/);
    expect(() => generateStatements({ clusters: oneCluster, syncs: [{ source: {}, targets: target }] })).toThrow(
      /syncs\[0\]\.source/,
    );
  });

  it('names the file when it cannot be read', () => {
    expect(() => statementsForFile('/nonexistent/eks-secret-sync.yaml')).toThrow(
      /\/nonexistent\/eks-secret-sync\.yaml: cannot read/,
    );
  });
});

describe('examples/eks-secret-sync.yaml', () => {
  it('is a valid configuration for the runtime', () => {
    const config = parseConfig(readFileSync(exampleConfig, 'utf8'), exampleConfig);

    expect(Object.keys(config.clusters)).toHaveLength(2);
    const kinds = config.syncs.map((s) => Object.keys(s.source).sort().join('+'));
    expect(kinds).toEqual(['secret', 'namePrefix', 'tags']);
  });
});

describe('vpcFromParams', () => {
  it('means no VPC when both lists are empty', () => {
    expect(vpcFromParams('', '')).toBeNull();
  });

  it('splits comma-separated ids', () => {
    expect(vpcFromParams('subnet-1, subnet-2', 'sg-1')).toEqual({
      subnetIds: ['subnet-1', 'subnet-2'],
      securityGroupIds: ['sg-1'],
    });
  });

  it('refuses subnets without security groups', () => {
    expect(() => vpcFromParams('subnet-1', '')).toThrow(/both/);
  });
});

type Resource = { Type: string; Properties: Record<string, unknown> };
type Template = { Resources: Record<string, Resource> };

describe('generated CloudFormation template (npm run package)', () => {
  let template: Template;
  const ofType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);

  beforeAll(() => {
    if (!existsSync(templatePath)) {
      // Not skipped: packaging offline is part of what this suite checks.
      execFileSync('npm', ['run', 'package'], { cwd: root, stdio: 'inherit', env: { ...process.env, CI: 'true' } });
    }
    template = JSON.parse(readFileSync(templatePath, 'utf8')) as Template;
  }, 300_000);

  it('runs every function on nodejs24.x, arm64, from the bundled handlers with source maps', () => {
    const functions = ofType('AWS::Lambda::Function');

    expect(functions.map(([, r]) => r.Properties.Handler).sort()).toEqual([
      'dist/backfill.handler',
      'dist/on-rotation.handler',
      'dist/reconcile.handler',
    ]);
    for (const [, fn] of functions) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      const variables = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
      expect(variables.NODE_OPTIONS).toBe('--enable-source-maps');
      // Relative: resolved against /var/task on Lambda and against this directory by `invoke local`.
      expect(variables.EKS_SYNC_CONFIG).toMatch(/^[^/].*\.ya?ml$/);
    }
  });

  it('routes Secret Label Updated (AWSCURRENT) to onRotation, with a retry policy and the rule DLQ', () => {
    const rules = ofType('AWS::Events::Rule').map(([, r]) => r.Properties);

    const labelRule = rules.find(
      (r) =>
        JSON.stringify((r.EventPattern as { 'detail-type'?: unknown })?.['detail-type']) === '["Secret Label Updated"]',
    );
    expect(labelRule?.EventPattern).toEqual({
      source: ['aws.secretsmanager'],
      'detail-type': ['Secret Label Updated'],
      detail: { labelUpdated: ['AWSCURRENT'] },
    });
    expect(labelRule?.State).toBe('ENABLED');
    expect(labelRule?.Targets).toEqual([
      expect.objectContaining({ Arn: { 'Fn::GetAtt': ['OnRotationLambdaFunction', 'Arn'] } }),
    ]);
  });

  it('has the optional CloudTrail rule drop failed calls', () => {
    const rules = ofType('AWS::Events::Rule').map(([, r]) => r.Properties);

    const trailRule = rules.find((r) => JSON.stringify(r.EventPattern ?? {}).includes('AWS API Call via CloudTrail'));
    expect(trailRule?.EventPattern).toMatchObject({
      source: ['aws.secretsmanager'],
      'detail-type': ['AWS API Call via CloudTrail', 'AWS Service Event via CloudTrail'],
      detail: { eventSource: ['secretsmanager.amazonaws.com'], errorCode: [{ exists: false }] },
    });
    expect(['ENABLED', 'DISABLED']).toContain(trailRule?.State);
  });

  it('schedules reconcile', () => {
    const rules = ofType('AWS::Events::Rule').map(([, r]) => r.Properties);

    const schedule = rules.find((r) => r.ScheduleExpression !== undefined);
    expect(schedule?.ScheduleExpression).toMatch(/^(rate|cron)\(.+\)$/);
    expect(schedule?.Targets).toEqual([
      expect.objectContaining({ Arn: { 'Fn::GetAtt': ['ReconcileLambdaFunction', 'Arn'] } }),
    ]);
  });

  it('gives every rule target a retry policy and the SQS dead-letter queue EventBridge may write to', () => {
    const targets = ofType('AWS::Events::Rule').flatMap(([, r]) => r.Properties.Targets as Record<string, unknown>[]);

    expect(targets).toHaveLength(3);
    for (const target of targets) {
      expect(target.RetryPolicy).toEqual({
        MaximumEventAgeInSeconds: expect.any(Number),
        MaximumRetryAttempts: expect.any(Number),
      });
      expect(target.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': ['RuleDeadLetterQueue', 'Arn'] } });
    }
    expect(template.Resources.RuleDeadLetterQueue?.Type).toBe('AWS::SQS::Queue');
    const policy = template.Resources.RuleDeadLetterQueuePolicy?.Properties as {
      Queues: unknown[];
      PolicyDocument: { Statement: Record<string, unknown>[] };
    };
    expect(policy.Queues).toEqual([{ Ref: 'RuleDeadLetterQueue' }]);
    expect(policy.PolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Condition: { ArnEquals: { 'aws:SourceArn': expect.arrayContaining([expect.anything()]) } },
      }),
    ]);
  });

  it('sends every function failure to the onFailure SQS queue after bounded retries', () => {
    const configs = ofType('AWS::Lambda::EventInvokeConfig').map(([, r]) => r.Properties);

    expect(configs).toHaveLength(3);
    for (const config of configs) {
      expect(config.DestinationConfig).toEqual({
        OnFailure: { Destination: { 'Fn::GetAtt': ['FailedSyncQueue', 'Arn'] } },
      });
      expect(config.MaximumRetryAttempts).toBeLessThanOrEqual(2);
    }
    expect(template.Resources.FailedSyncQueue?.Type).toBe('AWS::SQS::Queue');
  });

  it('keeps log groups for a bounded time', () => {
    for (const [, group] of ofType('AWS::Logs::LogGroup')) {
      expect(group.Properties.RetentionInDays).toEqual(expect.any(Number));
    }
  });

  it('carries the IAM statements generated from the packaged configuration', () => {
    const role = template.Resources.IamRoleLambdaExecution?.Properties as {
      Policies: { PolicyDocument: { Statement: unknown[] } }[];
    };
    const [first] = ofType('AWS::Lambda::Function');
    if (first === undefined) throw new Error('no Lambda function in the template');
    const packaged = (first[1].Properties.Environment as { Variables: Record<string, string> }).Variables
      .EKS_SYNC_CONFIG;
    const configFile = join(root, String(packaged));

    // osls writes a one-element Resource list as a plain value; compare lists.
    const normalize = (s: { Resource: unknown }) => ({ ...s, Resource: [s.Resource].flat() });
    const statements = role.Policies.flatMap((p) => p.PolicyDocument.Statement as { Resource: unknown }[]).map(
      normalize,
    );

    for (const expected of statementsForFile(configFile)) {
      expect(statements).toContainEqual(normalize(expected));
    }
  });

  it('never grants a Secrets Manager read on *', () => {
    const role = template.Resources.IamRoleLambdaExecution?.Properties as {
      Policies: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } }[];
    };
    const statements = role.Policies.flatMap((p) => p.PolicyDocument.Statement);
    const actionsOf = (s: { Action: string | string[] }) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
    const resourcesOf = (s: { Resource: unknown }) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

    const reads = statements.filter((s) =>
      actionsOf(s).some((a) => a === 'secretsmanager:GetSecretValue' || a === 'secretsmanager:*' || a === '*'),
    );
    expect(reads.length).toBeGreaterThan(0);
    for (const statement of reads) {
      expect(actionsOf(statement)).not.toContain('secretsmanager:*');
      expect(actionsOf(statement)).not.toContain('*');
      for (const resource of resourcesOf(statement)) {
        expect(resource).not.toBe('*');
        expect(renderArn(resource, env)).toMatch(/^arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+/);
      }
    }
    // Where the API demands *, nothing else rides along.
    for (const statement of statements.filter((s) => resourcesOf(s).includes('*'))) {
      expect(actionsOf(statement).sort()).toEqual(['secretsmanager:BatchGetSecretValue', 'secretsmanager:ListSecrets']);
    }
  });
});
