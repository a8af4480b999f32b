/**
 * The CloudWatch alarms and the dashboard of the stack, generated from serverless.yml's functions (their timeouts)
 * and `custom.eksSync.observability`. Loaded by osls / Serverless through
 * `${file(./scripts/serverless-observability.cjs):resources}`; CommonJS because the `file` variable source
 * require()s it. Every alarm notifies the `AlarmTopicArn` parameter's topic, and only when it is set (condition
 * `HasAlarmTopic`, declared in serverless.yml).
 */
'use strict';

const SERVICE_DIMENSION = { Name: 'service', Value: 'eks-secret-sync' };
/** Alarm when Maximum Duration passes this share of the function's timeout: the pass deadline is close. */
const DURATION_SHARE = 0.8;
/** One period for every alarm and widget: a failure shows within 5 minutes, and one bad pass is enough. */
const PERIOD = 300;

/** The function's logical id as osls/Serverless name it (`onRotation` -> `OnRotationLambdaFunction`). */
function functionLogicalId(name) {
  const normalized = name.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return `${normalized[0].toUpperCase()}${normalized.slice(1)}LambdaFunction`;
}

function actions() {
  // Only with a topic: an alarm without actions still shows in the console and on the dashboard.
  return { 'Fn::If': ['HasAlarmTopic', [{ Ref: 'AlarmTopicArn' }], { Ref: 'AWS::NoValue' }] };
}

/**
 * One alarm: `metric` above `threshold` in one period; by default its Sum above 0, i.e. any at all. Missing data
 * (nothing ran) is not a failure.
 */
function alarm({ name, description, namespace, metric, dimensions, statistic = 'Sum', threshold = 0 }) {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: name,
      AlarmDescription: description,
      Namespace: namespace,
      MetricName: metric,
      Dimensions: dimensions,
      Statistic: statistic,
      Period: PERIOD,
      EvaluationPeriods: 1,
      Threshold: threshold,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: actions(),
      OKActions: actions(),
    },
  };
}

/**
 * The alarms: per function Errors, Throttles and Duration near the timeout; failed bindings and failed source
 * lookups of the unattended passes (rotation, reconcile); configuration failures at cold start; each queue's depth.
 */
function alarms({ prefix, namespace, functions, queues, triggers }) {
  const out = {};
  for (const [name, { timeout }] of Object.entries(functions)) {
    const id = functionLogicalId(name).replace(/LambdaFunction$/, '');
    const dimensions = [{ Name: 'FunctionName', Value: { Ref: functionLogicalId(name) } }];
    // AWS/Lambda's own metrics of the function, named after the metric (`<id>ErrorsAlarm`, `<prefix>-<name>-errors`).
    const lambdaAlarm = (metric, description, more = {}) => {
      out[`${id}${metric}Alarm`] = alarm({
        namespace: 'AWS/Lambda',
        dimensions,
        name: `${prefix}-${name}-${metric.toLowerCase()}`,
        description,
        metric,
        ...more,
      });
    };
    lambdaAlarm(
      'Errors',
      `${name} failed (a pass with failed bindings on an EventBridge event, an invalid event or configuration, a timeout); its logs say which binding and why`,
    );
    lambdaAlarm(
      'Throttles',
      `${name} was throttled (account or reserved concurrency); asynchronous invocations are retried, but syncs are late`,
    );
    lambdaAlarm(
      'Duration',
      `${name} ran longer than ${DURATION_SHARE * 100}% of its ${timeout} s timeout: a slow cluster, or a configuration outgrowing one invocation`,
      { statistic: 'Maximum', threshold: Math.round(timeout * 1000 * DURATION_SHARE) },
    );
  }
  for (const [trigger, id] of Object.entries(triggers)) {
    const dimensions = [SERVICE_DIMENSION, { Name: 'Trigger', Value: trigger }];
    // Our metrics of one trigger's passes: any at all alarms.
    const passAlarm = (key, suffix, metric, description) => {
      out[`${id}${key}Alarm`] = alarm({
        namespace,
        dimensions,
        name: `${prefix}-${trigger}-${suffix}`,
        description,
        metric,
      });
    };
    passAlarm(
      'FailedBindings',
      'failed-bindings',
      'Failed',
      `A ${trigger} pass left bindings failed (metric Failed); the "binding failed" log lines name cluster, namespace, Secret and reason`,
    );
    passAlarm(
      'SourceFailed',
      'failed-source-lookups',
      'SourceFailed',
      `A ${trigger} pass could not list, describe or read a source secret in Secrets Manager (metric SourceFailed): denied, throttled or gone`,
    );
    passAlarm(
      'RolloutHalted',
      'rollout-halted',
      'RolloutHalted',
      `A wave failed its health check and the later waves of that secret are halted (metric RolloutHalted); the "waves halted" log line and the RolloutHalted Event on the Secret name the version, wave and workload`,
    );
  }
  out.ConfigFailedAlarm = alarm({
    namespace,
    dimensions: [SERVICE_DIMENSION],
    name: `${prefix}-config-failed`,
    description:
      'A cold start could not load the packaged configuration (metric ConfigFailed): nothing syncs until it is fixed and redeployed',
    metric: 'ConfigFailed',
  });
  for (const [id, queue] of Object.entries(queues)) {
    // A dead-letter queue is a description (any message alarms); a working queue sets the depth that alarms.
    const { description, threshold, maxAgeSeconds } =
      typeof queue === 'string' ? { description: queue, threshold: 0 } : queue;
    // A queue that is filled in bursts (work items) alarms on the age of its oldest message instead of its depth.
    if (maxAgeSeconds !== undefined) {
      out[`${id}AgeAlarm`] = alarm({
        namespace: 'AWS/SQS',
        dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id, 'QueueName'] } }],
        name: `${prefix}-${id}-age`,
        description: `${description}; the oldest message has waited more than ${maxAgeSeconds} s`,
        metric: 'ApproximateAgeOfOldestMessage',
        statistic: 'Maximum',
        threshold: Number(maxAgeSeconds),
      });
      continue;
    }
    out[`${id}DepthAlarm`] = alarm({
      namespace: 'AWS/SQS',
      dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id, 'QueueName'] } }],
      name: `${prefix}-${id}-depth`,
      description:
        threshold === 0
          ? `${description}; read the message, fix the cause, then backfill that secret`
          : `${description}; more than ${threshold} messages waiting`,
      metric: 'ApproximateNumberOfMessagesVisible',
      statistic: 'Maximum',
      threshold: Number(threshold),
    });
  }
  return out;
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: an Fn::Sub placeholder, for CloudFormation to substitute
const REGION = '${AWS::Region}';

/** A time-series widget; `metrics` in the dashboard body's array form. */
function widget(title, metrics, x, y, extra = {}) {
  return {
    type: 'metric',
    x,
    y,
    width: 12,
    height: 6,
    properties: { title, view: 'timeSeries', region: REGION, period: PERIOD, metrics, ...extra },
  };
}

/**
 * The dashboard body, as an `Fn::Sub` string (region, function and queue names substituted at deploy). Failures by
 * cluster come from a SEARCH over `FailedByCluster`, the only metric with a Cluster dimension.
 */
function dashboardBody({ namespace, functions, queues, triggers }) {
  const service = [SERVICE_DIMENSION.Name, SERVICE_DIMENSION.Value];
  const byTrigger = (metric, stat, label = (t) => t) =>
    Object.keys(triggers).map((t) => [namespace, metric, ...service, 'Trigger', t, { stat, label: label(t) }]);
  const fnNames = Object.keys(functions);
  const widgets = [
    widget('Syncs (Secrets created or updated)', byTrigger('Synced', 'Sum'), 0, 0, { stacked: true }),
    widget('Restarts (workloads patched)', byTrigger('Restarts', 'Sum'), 12, 0, { stacked: true }),
    widget(
      'Failures',
      [
        ...byTrigger('Failed', 'Sum', (t) => `failed bindings (${t})`),
        ...byTrigger('SourceFailed', 'Sum', (t) => `failed source lookups (${t})`),
        ...byTrigger('RolloutFailed', 'Sum', (t) => `failed rollouts after restarts (${t})`),
        ...byTrigger('RolloutHalted', 'Sum', (t) => `waves halted (${t})`),
        ...byTrigger('ContinuationFailed', 'Sum', (t) => `waves continuations not sent (${t})`),
        [namespace, 'ConfigFailed', ...service, { stat: 'Sum', label: 'configuration failed at cold start' }],
      ],
      0,
      6,
    ),
    widget(
      'Failed bindings by cluster',
      [
        [
          {
            id: 'byCluster',
            expression: `SEARCH('{${namespace},Cluster,service} MetricName="FailedByCluster"', 'Sum', ${PERIOD})`,
            label: '',
          },
        ],
      ],
      12,
      6,
    ),
    widget(
      'Pass duration p50 / p99 (ms)',
      [...byTrigger('Duration', 'p50', (t) => `${t} p50`), ...byTrigger('Duration', 'p99', (t) => `${t} p99`)],
      0,
      12,
    ),
    widget(
      'Queue depth',
      Object.entries(queues).map(([id]) => [
        'AWS/SQS',
        'ApproximateNumberOfMessagesVisible',
        'QueueName',
        `\${${id}.QueueName}`,
        { stat: 'Maximum', label: id },
      ]),
      12,
      12,
    ),
    widget(
      'Function errors and throttles',
      fnNames.flatMap((name) =>
        ['Errors', 'Throttles'].map((metric) => [
          'AWS/Lambda',
          metric,
          'FunctionName',
          `\${${functionLogicalId(name)}}`,
          { stat: 'Sum', label: `${name} ${metric.toLowerCase()}` },
        ]),
      ),
      0,
      18,
    ),
    widget(
      'Function duration, maximum (ms)',
      fnNames.map((name) => [
        'AWS/Lambda',
        'Duration',
        'FunctionName',
        `\${${functionLogicalId(name)}}`,
        { stat: 'Maximum', label: `${name} (timeout ${functions[name].timeout} s)` },
      ]),
      12,
      18,
    ),
  ];
  return { 'Fn::Sub': JSON.stringify({ widgets }) };
}

/** Alarms and dashboard for the given settings (see `resources` for where they come from). */
function observabilityResources(settings) {
  return {
    Resources: {
      ...alarms(settings),
      Dashboard: {
        Type: 'AWS::CloudWatch::Dashboard',
        Properties: { DashboardName: settings.prefix, DashboardBody: dashboardBody(settings) },
      },
    },
  };
}

/** The osls/Serverless entry point: reads the functions' timeouts and `custom.eksSync.observability`. */
async function resources({ resolveVariable }) {
  const settings = await resolveVariable('self:custom.eksSync.observability');
  const functions = {};
  for (const name of settings.functions) {
    const timeout = await resolveVariable(`self:functions.${name}.timeout`);
    if (typeof timeout !== 'number') throw new Error(`function "${name}" has no numeric timeout in serverless.yml`);
    functions[name] = { timeout };
  }
  return observabilityResources({ ...settings, functions });
}

module.exports = { resources, observabilityResources, functionLogicalId };
