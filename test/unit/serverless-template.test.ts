/**
 * The deployment description: the IAM generator (scripts/iam-from-config.cjs), the VPC parameters, and the
 * CloudFormation template that `npm run package` (osls, offline) generates from serverless.yml.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
type Template = {
  Resources: Record<string, Resource>;
  Parameters?: Record<string, Record<string, unknown>>;
  Conditions?: Record<string, unknown>;
  Outputs?: Record<string, { Value: unknown }>;
};

/**
 * Packages the service offline (stage ci) with extra `--param`s in a temporary directory that links to this one, and
 * returns its template. Not here: osls empties this directory's .serverless on every package, `--package` or not.
 */
function packageWith(params: string[]): Template {
  if (!existsSync(join(root, 'dist', 'on-rotation.mjs'))) {
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  }
  const service = mkdtempSync(join(tmpdir(), 'eks-sync-package-'));
  // A copy: osls does not take a linked serverless.yml for a service directory.
  copyFileSync(join(root, 'serverless.yml'), join(service, 'serverless.yml'));
  for (const entry of ['package.json', 'scripts', 'examples', 'dist', 'node_modules']) {
    symlinkSync(join(root, entry), join(service, entry));
  }
  execFileSync('npx', ['serverless', 'package', '--stage', 'ci', ...params.map((p) => `--param=${p}`)], {
    cwd: service,
    stdio: 'inherit',
    env: { ...process.env, CI: 'true' },
  });
  const out = join(service, '.serverless', 'cloudformation-template-update-stack.json');
  return JSON.parse(readFileSync(out, 'utf8')) as Template;
}

/**
 * True when there is no packaged template or it is older than what generates it (serverless.yml and the scripts it
 * loads): a template left from an older checkout would otherwise be tested instead of today's.
 */
function templateStale(): boolean {
  if (!existsSync(templatePath)) return true;
  const built = statSync(templatePath).mtimeMs;
  const sources = [
    join(root, 'serverless.yml'),
    ...readdirSync(join(root, 'scripts'))
      .filter((f) => f.endsWith('.cjs'))
      .map((f) => join(root, 'scripts', f)),
  ];
  return sources.some((f) => statSync(f).mtimeMs > built);
}

describe('generated CloudFormation template (npm run package)', () => {
  let template: Template;
  const ofType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
  /** The statements of the functions' shared role, all policies together. */
  function roleStatements<S = { Action: unknown; Resource: unknown }>(): S[] {
    const role = template.Resources.IamRoleLambdaExecution?.Properties as {
      Policies: { PolicyDocument: { Statement: S[] } }[];
    };
    return role.Policies.flatMap((p) => p.PolicyDocument.Statement);
  }
  /** The event source mapping that reads the queue `queue`. */
  const mappingOf = (queue: string) =>
    ofType('AWS::Lambda::EventSourceMapping')
      .map(([, r]) => r.Properties)
      .find((m) => JSON.stringify(m.EventSourceArn).includes(`"${queue}"`));

  /**
   * What each of our queues is: a visibility timeout of at least 6x its consumer's timeout (AWS's advice for event
   * source mappings), server-side encryption, and its own DLQ after 5 receives, keeping messages 14 days.
   */
  function expectQueueWithDlq(queue: string, consumer: string): void {
    const properties = template.Resources[queue]?.Properties as Record<string, unknown>;
    const timeout = template.Resources[consumer]?.Properties.Timeout as number;
    const dlq = queue.replace(/Queue$/, 'DeadLetterQueue');
    expect(properties.VisibilityTimeout as number).toBeGreaterThanOrEqual(6 * timeout);
    expect(properties.SqsManagedSseEnabled).toBe(true);
    expect(properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] },
      maxReceiveCount: 5,
    });
    expect(template.Resources[dlq]?.Properties).toMatchObject({ MessageRetentionPeriod: 1209600 });
  }

  /** The statements of the queue policy `policy`, which must apply to the queue `queue` alone. */
  function queuePolicyStatements(policy: string, queue: string): Record<string, unknown>[] {
    const properties = template.Resources[policy]?.Properties as {
      Queues: unknown[];
      PolicyDocument: { Statement: Record<string, unknown>[] };
    };
    expect(properties.Queues).toEqual([{ Ref: queue }]);
    return properties.PolicyDocument.Statement;
  }

  beforeAll(() => {
    if (templateStale()) {
      // Not skipped: packaging offline is part of what this suite checks.
      execFileSync('npm', ['run', 'package'], { cwd: root, stdio: 'inherit', env: { ...process.env, CI: 'true' } });
    }
    template = JSON.parse(readFileSync(templatePath, 'utf8')) as Template;
  }, 300_000);

  it('runs every function on nodejs24.x, arm64, from the bundled handlers with source maps', () => {
    const functions = ofType('AWS::Lambda::Function');

    expect(functions.map(([, r]) => r.Properties.Handler).sort()).toEqual([
      'dist/backfill.handler',
      'dist/continue-waves.handler',
      'dist/on-rotation.handler',
      'dist/reconcile.handler',
      'dist/work-item.handler',
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

  it('routes Secret Label Updated (AWSCURRENT) to the rotation queue, with a retry policy and the rule DLQ', () => {
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
    expect(labelRule?.Targets).toEqual([expect.objectContaining({ Arn: { 'Fn::GetAtt': ['RotationQueue', 'Arn'] } })]);
  });

  it('has no rule invoke onRotation directly: both rotation rules send to the queue it consumes', () => {
    const rules = ofType('AWS::Events::Rule').map(([, r]) => r.Properties);
    const targets = rules.flatMap((r) => r.Targets as Array<{ Arn: unknown }>).map((t) => JSON.stringify(t.Arn));

    expect(targets).not.toContain(JSON.stringify({ 'Fn::GetAtt': ['OnRotationLambdaFunction', 'Arn'] }));
    expect(targets.filter((t) => t === JSON.stringify({ 'Fn::GetAtt': ['RotationQueue', 'Arn'] }))).toHaveLength(2);
    expect(ofType('AWS::Lambda::Permission').map(([, r]) => r.Properties.FunctionName)).not.toContainEqual({
      'Fn::GetAtt': ['OnRotationLambdaFunction', 'Arn'],
    });
  });

  it('buffers rotations in an SQS queue: batching window, batch size, concurrency, partial batch responses', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping')
      .map(([, r]) => r.Properties)
      .filter((m) => JSON.stringify(m.EventSourceArn).includes('"RotationQueue"'));

    expect(mappings).toEqual([
      {
        EventSourceArn: { 'Fn::GetAtt': ['RotationQueue', 'Arn'] },
        FunctionName: { 'Fn::GetAtt': ['OnRotationLambdaFunction', 'Arn'] },
        Enabled: true,
        BatchSize: 100,
        // A couple of seconds: a burst coalesces into one pass, a lone rotation is not held back long.
        MaximumBatchingWindowInSeconds: 2,
        ScalingConfig: { MaximumConcurrency: 2 },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      },
    ]);
  });

  it("gives the rotation queue its own DLQ, a visibility timeout of 6x onRotation's timeout, and lets only our rules send", () => {
    expect(template.Resources.RotationQueue?.Type).toBe('AWS::SQS::Queue');
    expectQueueWithDlq('RotationQueue', 'OnRotationLambdaFunction');
    expect(queuePolicyStatements('RotationQueuePolicy', 'RotationQueue')).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': ['RotationQueue', 'Arn'] },
        Condition: {
          ArnEquals: {
            'aws:SourceArn': [
              { 'Fn::GetAtt': ['LabelUpdatedRule', 'Arn'] },
              { 'Fn::GetAtt': ['CloudTrailRule', 'Arn'] },
            ],
          },
        },
      }),
    ]);
    expect(template.Outputs?.RotationQueueUrl?.Value).toEqual({ Ref: 'RotationQueue' });
  });

  it('continues waves through a delay queue with its own DLQ that continueWaves consumes, and every function may send to it', () => {
    const mapping = mappingOf('ContinuationQueue');
    const onQueue = roleStatements().filter((st) => JSON.stringify(st.Resource).includes('"ContinuationQueue"'));

    expect(template.Resources.ContinuationQueue?.Type).toBe('AWS::SQS::Queue');
    expectQueueWithDlq('ContinuationQueue', 'ContinueWavesLambdaFunction');
    expect(mapping).toMatchObject({
      FunctionName: { 'Fn::GetAtt': ['ContinueWavesLambdaFunction', 'Arn'] },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    for (const [, fn] of ofType('AWS::Lambda::Function')) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(variables.EKS_SYNC_CONTINUATION_QUEUE_URL).toEqual({ Ref: 'ContinuationQueue' });
    }
    // Our own grant on the queue is SendMessage; Receive/Delete come with the event source mapping's statement.
    expect(onQueue).toContainEqual(
      expect.objectContaining({
        Action: ['sqs:SendMessage'],
        Resource: { 'Fn::GetAtt': ['ContinuationQueue', 'Arn'] },
      }),
    );
  });

  it('queues work items of fleet-scale passes for workItem (one item per invocation), with a DLQ, an age alarm and SendMessage for every function', () => {
    // Prepare
    const mapping = mappingOf('WorkQueue');
    const statements = roleStatements();

    // Assess
    expectQueueWithDlq('WorkQueue', 'WorkItemLambdaFunction');
    expect(mapping).toMatchObject({
      FunctionName: { 'Fn::GetAtt': ['WorkItemLambdaFunction', 'Arn'] },
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 20 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    for (const [, fn] of ofType('AWS::Lambda::Function')) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(variables.EKS_SYNC_WORK_QUEUE_URL).toEqual({ Ref: 'WorkQueue' });
    }
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: ['sqs:SendMessage'], Resource: { 'Fn::GetAtt': ['WorkQueue', 'Arn'] } }),
    );
    // Filled in bursts by design: the age of the oldest item alarms, not the depth.
    const age = ofType('AWS::CloudWatch::Alarm')
      .map(([, r]) => r.Properties)
      .find((a) => a.MetricName === 'ApproximateAgeOfOldestMessage');
    expect(age).toMatchObject({
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': ['WorkQueue', 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 600,
    });
    expect(template.Outputs?.WorkDeadLetterQueueArn?.Value).toEqual({ 'Fn::GetAtt': ['WorkDeadLetterQueue', 'Arn'] });
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
    expect(queuePolicyStatements('RuleDeadLetterQueuePolicy', 'RuleDeadLetterQueue')).toEqual([
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
    const [first] = ofType('AWS::Lambda::Function');
    if (first === undefined) throw new Error('no Lambda function in the template');
    const packaged = (first[1].Properties.Environment as { Variables: Record<string, string> }).Variables
      .EKS_SYNC_CONFIG;
    const configFile = join(root, String(packaged));

    // osls writes a one-element Resource list as a plain value; compare lists.
    const normalize = (s: { Resource: unknown }) => ({ ...s, Resource: [s.Resource].flat() });
    const statements = roleStatements<{ Resource: unknown }>().map(normalize);

    for (const expected of statementsForFile(configFile)) {
      expect(statements).toContainEqual(normalize(expected));
    }
  });

  it('never grants a Secrets Manager read on *', () => {
    const statements = roleStatements<{ Action: string | string[]; Resource: unknown }>();
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

type Alarm = {
  AlarmName: string;
  Namespace: string;
  MetricName: string;
  Dimensions: { Name: string; Value: unknown }[];
  Statistic: string;
  Threshold: number;
  ComparisonOperator: string;
  TreatMissingData: string;
  AlarmActions: unknown;
  OKActions: unknown;
};

describe('alarms, dashboard and tracing in the generated template', () => {
  let template: Template;
  const functionIds = [
    'OnRotationLambdaFunction',
    'ReconcileLambdaFunction',
    'BackfillLambdaFunction',
    'ContinueWavesLambdaFunction',
  ];
  const alarms = () =>
    Object.entries(template.Resources)
      .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
      .map(([id, r]) => ({ id, ...(r.Properties as Alarm) }));
  const alarmOf = (metric: string, dimension: { Name: string; Value: unknown }) => {
    const found = alarms().filter(
      (a) => a.MetricName === metric && a.Dimensions.some((d) => JSON.stringify(d) === JSON.stringify(dimension)),
    );
    expect(found, `one ${metric} alarm on ${JSON.stringify(dimension)}`).toHaveLength(1);
    return found[0] as Alarm;
  };
  const resource = (t: Template, id: string): Resource => {
    const found = t.Resources[id];
    if (found === undefined) throw new Error(`no resource ${id} in the template`);
    return found;
  };
  const namespaceOfFunctions = () =>
    (resource(template, 'OnRotationLambdaFunction').Properties.Environment as { Variables: Record<string, string> })
      .Variables.EKS_SYNC_METRICS_NAMESPACE;

  beforeAll(() => {
    if (!existsSync(templatePath)) {
      execFileSync('npm', ['run', 'package'], { cwd: root, stdio: 'inherit', env: { ...process.env, CI: 'true' } });
    }
    template = JSON.parse(readFileSync(templatePath, 'utf8')) as Template;
  }, 300_000);

  it("alarms on each function's Errors and Throttles, and on Maximum Duration above 80% of its timeout", () => {
    for (const id of functionIds) {
      const fn = { Name: 'FunctionName', Value: { Ref: id } };
      const timeoutMs = (template.Resources[id]?.Properties.Timeout as number) * 1000;
      expect(alarmOf('Errors', fn)).toMatchObject({ Namespace: 'AWS/Lambda', Statistic: 'Sum', Threshold: 0 });
      expect(alarmOf('Throttles', fn)).toMatchObject({ Namespace: 'AWS/Lambda', Statistic: 'Sum', Threshold: 0 });
      expect(alarmOf('Duration', fn)).toMatchObject({
        Namespace: 'AWS/Lambda',
        Statistic: 'Maximum',
        Threshold: timeoutMs * 0.8,
      });
    }
    expect(template.Resources.OnRotationLambdaFunction?.Properties.Timeout).toBe(120);
    expect(alarmOf('Duration', { Name: 'FunctionName', Value: { Ref: 'OnRotationLambdaFunction' } }).Threshold).toBe(
      96_000,
    );
  });

  it('alarms on failed bindings, failed source lookups and halted waves of rotation and reconcile passes, and on configuration failures', () => {
    const namespace = namespaceOfFunctions();
    expect(namespace).toBe('EksSecretSync');
    const service = { Name: 'service', Value: 'eks-secret-sync' };
    for (const trigger of ['rotation', 'reconcile']) {
      for (const metric of ['Failed', 'SourceFailed', 'RolloutHalted']) {
        const alarm = alarmOf(metric, { Name: 'Trigger', Value: trigger });
        expect(alarm).toMatchObject({ Namespace: namespace, Statistic: 'Sum', Threshold: 0 });
        expect(alarm.Dimensions).toEqual([service, { Name: 'Trigger', Value: trigger }]);
      }
    }
    const config = alarms().filter((a) => a.MetricName === 'ConfigFailed');
    expect(config).toEqual([
      expect.objectContaining({ Namespace: namespace, Dimensions: [service], Statistic: 'Sum', Threshold: 0 }),
    ]);
  });

  it('alarms on any message in a dead-letter queue, and on a backlog in the rotation queue', () => {
    for (const queue of [
      'RuleDeadLetterQueue',
      'FailedSyncQueue',
      'RotationDeadLetterQueue',
      'ContinuationDeadLetterQueue',
      'WorkDeadLetterQueue',
    ]) {
      expect(template.Resources[queue]?.Type).toBe('AWS::SQS::Queue');
      const alarm = alarmOf('ApproximateNumberOfMessagesVisible', {
        Name: 'QueueName',
        Value: { 'Fn::GetAtt': [queue, 'QueueName'] },
      });
      expect(alarm).toMatchObject({ Namespace: 'AWS/SQS', Statistic: 'Maximum', Threshold: 0 });
    }
    // A burst fills the rotation queue for a batching window: only a backlog alarms.
    const backlog = alarmOf('ApproximateNumberOfMessagesVisible', {
      Name: 'QueueName',
      Value: { 'Fn::GetAtt': ['RotationQueue', 'QueueName'] },
    });
    expect(backlog).toMatchObject({ Namespace: 'AWS/SQS', Statistic: 'Maximum', Threshold: 1000 });
  });

  it('fires every alarm above its threshold, quiet without data, and notifies the topic only when one is set', () => {
    const all = alarms();
    expect(all).toHaveLength(29);
    expect(new Set(all.map((a) => a.AlarmName)).size).toBe(all.length);
    const onlyWithTopic = { 'Fn::If': ['HasAlarmTopic', [{ Ref: 'AlarmTopicArn' }], { Ref: 'AWS::NoValue' }] };
    for (const alarm of all) {
      expect(alarm.ComparisonOperator).toBe('GreaterThanThreshold');
      expect(alarm.TreatMissingData).toBe('notBreaching');
      expect(alarm.AlarmActions).toEqual(onlyWithTopic);
      expect(alarm.OKActions).toEqual(onlyWithTopic);
    }
    expect(template.Conditions?.HasAlarmTopic).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmTopicArn' }, ''] }],
    });
    expect(template.Parameters?.AlarmTopicArn).toMatchObject({ Type: 'String', Default: '' });
    const pattern = new RegExp(String(template.Parameters?.AlarmTopicArn?.AllowedPattern));
    expect(pattern.test('')).toBe(true);
    expect(pattern.test('arn:aws:sns:eu-west-1:111111111111:ops-alerts')).toBe(true);
    expect(pattern.test('ops-alerts')).toBe(false);
  });

  it('has a dashboard whose body parses and shows syncs, restarts, failures, failures by cluster, p50/p99 and queue depth', () => {
    const dashboard = resource(template, 'Dashboard');
    expect(dashboard.Type).toBe('AWS::CloudWatch::Dashboard');
    const sub = (dashboard.Properties.DashboardBody as { 'Fn::Sub': string })['Fn::Sub'];
    // Every substitution names a pseudo parameter or a resource (attribute) of this template.
    const references = [...sub.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1] as string);
    for (const ref of new Set(references)) {
      if (ref.startsWith('AWS::')) continue;
      expect(template.Resources, ref).toHaveProperty([ref.split('.')[0] as string]);
    }
    const body = JSON.parse(sub.replace(/\$\{([^}]+)\}/g, '<$1>')) as {
      widgets: { properties: { title: string; metrics: unknown[][] } }[];
    };
    type Line = { namespace?: string; metric?: string; dims: string[]; stat?: string; expression?: string };
    const lines: Line[] = body.widgets.flatMap((w) =>
      w.properties.metrics.map((m) => {
        const last = m.at(-1) as { stat?: string; expression?: string };
        const strings = m.filter((x): x is string => typeof x === 'string');
        const [namespace, metric, ...dims] = strings;
        return { namespace, metric, dims, stat: last.stat, expression: last.expression };
      }),
    );
    const has = (metric: string, stat?: string) =>
      lines.some((l) => l.metric === metric && (stat === undefined || l.stat === stat));
    for (const metric of ['Synced', 'Restarts', 'Failed', 'SourceFailed', 'RolloutFailed', 'ConfigFailed']) {
      expect(lines.filter((l) => l.metric === metric).every((l) => l.namespace === 'EksSecretSync')).toBe(true);
      expect(has(metric), metric).toBe(true);
    }
    expect(has('Duration', 'p50')).toBe(true);
    expect(has('Duration', 'p99')).toBe(true);
    expect(lines.filter((l) => l.metric === 'ApproximateNumberOfMessagesVisible').map((l) => l.dims)).toEqual([
      ['QueueName', '<RuleDeadLetterQueue.QueueName>'],
      ['QueueName', '<FailedSyncQueue.QueueName>'],
      ['QueueName', '<RotationDeadLetterQueue.QueueName>'],
      ['QueueName', '<ContinuationDeadLetterQueue.QueueName>'],
      ['QueueName', '<WorkDeadLetterQueue.QueueName>'],
      ['QueueName', '<WorkQueue.QueueName>'],
      ['QueueName', '<RotationQueue.QueueName>'],
    ]);
    // Failures by cluster: the only metric with a Cluster dimension, found by a search (clusters are not known here).
    expect(lines.map((l) => l.expression).filter(Boolean)).toEqual([
      `SEARCH('{EksSecretSync,Cluster,service} MetricName="FailedByCluster"', 'Sum', 300)`,
    ]);
    expect(lines.filter((l) => l.dims.includes('Cluster'))).toEqual([]);
    expect(template.Outputs?.DashboardName?.Value).toEqual({ Ref: 'Dashboard' });
  });

  it('traces with X-Ray only when the tracing parameter is set, with the X-Ray writes in the role then', () => {
    const role = (t: Template) =>
      (
        resource(t, 'IamRoleLambdaExecution').Properties as {
          Policies: { PolicyDocument: { Statement: { Action: unknown }[] } }[];
        }
      ).Policies.flatMap((p) => p.PolicyDocument.Statement);
    const xray = (t: Template) => role(t).filter((s) => JSON.stringify(s.Action).includes('xray:'));
    const tracing = (t: Template) =>
      functionIds.map((id) => t.Resources[id]?.Properties.TracingConfig as { Mode: string } | undefined);

    const traced = packageWith(['tracing=true', 'alarmTopicArn=arn:aws:sns:eu-west-1:111111111111:ops']);

    expect(tracing(template)).toEqual([undefined, undefined, undefined, undefined]);
    expect(xray(template)).toEqual([]);
    expect(tracing(traced)).toEqual([{ Mode: 'Active' }, { Mode: 'Active' }, { Mode: 'Active' }, { Mode: 'Active' }]);
    // X-Ray's write actions have no resource-level permissions.
    expect(xray(traced)).toEqual([
      { Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: ['*'] },
    ]);
    expect(traced.Parameters?.AlarmTopicArn?.Default).toBe('arn:aws:sns:eu-west-1:111111111111:ops');
  }, 120_000);
});
