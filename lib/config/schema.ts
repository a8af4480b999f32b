/** The sync configuration file, validated with zod at cold start. README "Configuration" documents every field. */
import * as z from 'zod';
import { jmespathProblem } from '../domain/jmespath.js';
import { secretKeyProblem } from '../domain/names.js';
import { BUILT_IN_SECRET_TYPES } from '../domain/secret-types.js';
import { templateProblem } from '../domain/templates.js';
import { DEFAULT_AWS_TIMEOUTS, DEFAULT_KUBE_TIMEOUTS } from '../timeouts.js';

/** RFC 1123 label (namespaces) and subdomain (Secret names), as the API server validates them. */
const dnsLabel = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a lowercase RFC 1123 label (a-z, 0-9, "-")');
const dnsSubdomain = z
  .string()
  .max(253)
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    'must be a lowercase RFC 1123 subdomain (a-z, 0-9, "-", ".")',
  );
/** A JSON key a `keys` mapping reads: [-._a-zA-Z0-9]+ (a dotted path goes in `{ path }`). */
const dataKey = z
  .string()
  .max(253)
  .regex(/^[-._a-zA-Z0-9]+$/, 'must consist of alphanumerics, "-", "_" or "."');

/** A timeout in milliseconds: at least 100 ms, at most undici's own 5-minute default. */
const millis = z.number().int().min(100).max(300_000);

/** Up to Lambda's own 15-minute cap; the pass deadline cuts a longer wait anyway. */
const longMillis = z.number().int().max(900_000);

/**
 * Watching the rollouts a pass started (README "Rollouts"). `waitMs` 0 reports them `progressing` without reading
 * anything; `readyTimeoutMs` is how long a rollout may stand still with new pods not Ready before it is `failed`.
 */
const rolloutSchema = z.strictObject({
  waitMs: longMillis.min(0).default(60_000),
  readyTimeoutMs: longMillis.min(100).default(30_000),
});

/** Per-request timeouts of Kubernetes API calls (lib/timeouts.ts says why these defaults). */
const kubernetesTimeouts = {
  connectMs: millis.default(DEFAULT_KUBE_TIMEOUTS.connectMs),
  headersMs: millis.default(DEFAULT_KUBE_TIMEOUTS.headersMs),
  bodyMs: millis.default(DEFAULT_KUBE_TIMEOUTS.bodyMs),
};
/** A cluster's own Kubernetes timeouts; unset fields come from `defaults.timeouts.kubernetes`. */
const clusterTimeouts = z
  .strictObject({
    connectMs: millis.optional(),
    headersMs: millis.optional(),
    bodyMs: millis.optional(),
  })
  .optional();

type IssueSink = { addIssue(issue: { code: 'custom'; message: string; path?: PropertyKey[] }): void };

/** Reports a Secret data key the API server would refuse on every write (see secretKeyProblem). */
function checkSecretKey(key: string, ctx: IssueSink): void {
  const problem = secretKeyProblem(key);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `Secret key ${JSON.stringify(key)} ${problem}` });
}

const secretKey = z.string().superRefine(checkSecretKey);

/** YAML gives `__proto__` as an own key, which zod's record then drops silently: refuse it by name first. */
function refuseProtoKey(value: unknown, ctx: IssueSink): unknown {
  if (typeof value === 'object' && value !== null && Object.hasOwn(value, '__proto__'))
    checkSecretKey('__proto__', ctx);
  return value;
}

const clusterName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must be a cluster name of [A-Za-z0-9_.-]');

const eksCluster = z.strictObject({
  eks: z
    .strictObject({
      name: z.string().min(1),
      region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1'),
      roleArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN')
        .optional(),
      externalId: z.string().min(2).optional(),
    })
    .describe('An EKS cluster: endpoint and CA from DescribeCluster; roleArn (+ externalId) is assumed first'),
  timeouts: clusterTimeouts,
});

const kubeconfigCluster = z.strictObject({
  kubeconfig: z
    .strictObject({
      path: z.string().min(1).default('~/.kube/config'),
      context: z.string().min(1),
      /** Only for local test clusters; verification is on unless this says otherwise. */
      skipTLSVerify: z.boolean().optional(),
    })
    .describe('A context of a kubeconfig file: local and non-EKS clusters, tests'),
  timeouts: clusterTimeouts,
});

export const clusterSchema = z.union([eksCluster, kubeconfigCluster]);

const secretArn = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;

// A union that matches no branch reports only "Invalid input"; these messages say which forms are accepted.
const sourceSchema = z.union(
  [
    z.strictObject({
      secret: z
        .string()
        .min(1)
        .max(2048)
        .refine((s) => !s.startsWith('arn:') || secretArn.test(s), 'must be a secret name or a Secrets Manager ARN'),
    }),
    z.strictObject({
      namePrefix: z.string().min(1),
      tags: z.record(z.string(), z.string()).optional(),
    }),
    z.strictObject({
      tags: z.record(z.string(), z.string()).refine((t) => Object.keys(t).length > 0, 'must not be empty'),
    }),
  ],
  { error: 'must be { secret: <name or ARN> }, { namePrefix: <prefix>, tags?: {...} } or { tags: {...} }' },
);

/** Reports a JMESPath expression or template of `keys` that would fail on every render, at its place. */
function checkKeyRef(key: string, ref: KeyRef, ctx: IssueSink): void {
  if (typeof ref === 'string' || 'path' in ref) return;
  const [field, problem] =
    'jmespath' in ref ? ['jmespath', jmespathProblem(ref.jmespath)] : ['template', templateProblem(ref.template)];
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, path: [key, field] });
}

/**
 * How a secret's value becomes one Secret key: a top-level JSON key, a dotted path (`db.host`, `hosts.0`), a
 * JMESPath expression (`tls."tls.crt"`), or a template of several values. Expressions and templates are checked
 * after the union (see `keys`), whose own message would hide what is wrong in them.
 */
const keyRef = z.union(
  [
    dataKey.describe('top-level JSON key'),
    z.strictObject({ path: z.string().min(1).describe('Dotted path: db.host, hosts.0') }),
    z.strictObject({
      jmespath: z.string().min(1).describe('JMESPath expression, e.g. tls."tls.crt" for a key with dots'),
    }),
    z.strictObject({
      template: z
        .string()
        .min(1)
        .describe('Text with {{ .key }} variables (JMESPath over the JSON), inserted raw; no sections or partials'),
    }),
  ],
  {
    error:
      'must be a top-level JSON key, { path: <dotted.path> }, { jmespath: <expression> } or { template: "...{{ .key }}..." }',
  },
);

const workloadRef = z.strictObject({
  kind: z.enum(['Deployment', 'StatefulSet', 'DaemonSet', 'Rollout', 'CronJob']),
  name: dnsSubdomain,
});

/**
 * `auto`: every consumer (pod-spec references and Reloader annotations; a workload opts out with
 * `reloader.stakater.com/auto: "false"`); `annotated`: only workloads whose Reloader annotations ask (Reloader's
 * opt-in model); `none`; or named workloads, plus discovered ones with `auto: true` or `auto: annotated`.
 */
const restartSchema = z.union(
  [
    z.enum(['auto', 'annotated', 'none']),
    z.strictObject({
      /** Also restart consumers discovered from pod specs and Reloader annotations (`annotated`: only those asking). */
      auto: z.union([z.boolean(), z.literal('annotated')]).default(false),
      workloads: z.array(workloadRef).min(1),
    }),
  ],
  {
    error: 'must be "auto", "annotated", "none" or { workloads: [{ kind, name }, ...], auto?: true | annotated }',
  },
);

const targetSchema = z
  .strictObject({
    clusters: z.array(clusterName).min(1).describe('Names defined under "clusters"'),
    namespaces: z.array(dnsLabel).min(1).describe('Existing namespaces; every cluster x namespace is one binding'),
    /** Kubernetes Secret name; for selector sources defaults to the secret name made DNS-safe. */
    secret: dnsSubdomain.optional(),
    // The enum lets editors complete the built-in types; any other type is accepted as Kubernetes accepts it, and
    // an unknown `kubernetes.io/` one is refused by the cross-checks in load.ts, with a suggestion.
    type: z
      .union([z.enum(BUILT_IN_SECRET_TYPES as [string, ...string[]]), z.string().min(1)], {
        error: 'must be a Secret type such as Opaque or kubernetes.io/tls',
      })
      .default('Opaque')
      .describe('Secret type; built-in types need their keys (e.g. kubernetes.io/tls: tls.crt and tls.key)'),
    /** `all` (default): every top-level key of a JSON secret; or a map of Secret key -> a keyRef (above). */
    keys: z
      .preprocess(
        refuseProtoKey,
        z
          .union(
            [
              z.literal('all'),
              z.record(z.string(), keyRef).refine((k) => Object.keys(k).length > 0, 'must map at least one key'),
            ],
            {
              error:
                'must be "all" or a map of Secret key (alphanumerics, "-", "_", ".") -> JSON key, { path }, { jmespath } or { template }',
            },
          )
          // Key names are checked after the union, whose own message would hide which key is wrong.
          .superRefine((keys, ctx) => {
            if (keys === 'all') return;
            for (const [key, ref] of Object.entries(keys)) {
              checkSecretKey(key, ctx);
              checkKeyRef(key, ref, ctx);
            }
          }),
      )
      .optional()
      .describe(
        '"all" (default): every top-level JSON key; or a map of Secret key -> JSON key, { path }, { jmespath } or { template }',
      ),
    /** The whole SecretString (or SecretBinary) as one key. Excludes `keys`. */
    asKey: secretKey.optional().describe('The whole SecretString (or SecretBinary) under this one key'),
    labels: z.record(z.string(), z.string()).default({}),
    annotations: z.record(z.string(), z.string()).default({}),
    restart: restartSchema
      .default('auto')
      .describe(
        '"auto": consumers found in pod specs and Reloader annotations; "annotated": only workloads whose Reloader annotations ask; "none"; or { workloads, auto? }',
      ),
    /** Take over an existing Secret that we did not create. */
    adopt: z.boolean().default(false).describe('Take over an existing Secret that eks-secret-sync did not create'),
    /** Delete and recreate an immutable Secret or one whose type differs, instead of failing. */
    recreate: z
      .boolean()
      .default(false)
      .describe('Delete and recreate an immutable Secret or one of another type, instead of failing'),
  })
  .refine((t) => !(t.keys !== undefined && t.asKey !== undefined), {
    message: '"keys" and "asKey" exclude each other',
    path: ['asKey'],
  });

/** A duration as people write it: `90s`, `5m`, `1h`; read as milliseconds. */
const duration = z
  .string()
  .regex(/^[1-9]\d*(s|m|h)$/, 'must be a duration such as 90s, 5m or 1h')
  .transform(
    (text) => Number(text.slice(0, -1)) * { s: 1_000, m: 60_000, h: 3_600_000 }[text.slice(-1) as 's' | 'm' | 'h'],
  );

/**
 * Health-gated waves of a sync (README "Waves"): wave N+1 is written only once every Secret of waves 1..N holds the
 * version and their consumers rolled out. Every cluster of the sync's targets must be in exactly one wave.
 */
const wavesSchema = z.strictObject({
  waves: z
    .array(z.array(clusterName).min(1))
    .min(1)
    .describe('Ordered lists of cluster names, e.g. [[staging], [prod-eu], [prod-us, prod-ap]]'),
  healthTimeout: duration
    .prefault('10m')
    .describe('How long a wave may take to roll out after its Secrets were written before it is failed'),
  // SQS DelaySeconds is at most 900: the continuation message is the only wait between checks.
  checkEvery: duration
    .prefault('30s')
    .refine((ms) => ms <= 900_000, 'must be at most 15m (the continuation queue delays a message by 900 s at most)')
    .describe('How long after a pass a wave still rolling out is checked again (continuation queue delay)'),
  onFailure: z
    .enum(['halt', 'rollback'])
    .default('halt')
    .describe(
      '"halt": a failed wave keeps the new version and the later waves are held, for a person; "rollback": the failed wave\'s Secrets go back to the version they held before, their consumers restarted back (the version is held either way, until "eks-secret-sync release" or a newer version)',
    ),
});

/**
 * Fleet-scale passes (README "Fleet scale: work items"): `inline` always runs a pass in one invocation; `queue`
 * plans it and enqueues one work item per `clustersPerItem` clusters; `auto` queues only a pass over more than
 * `threshold` clusters. Passes with `rollout.waves`, dry runs and deletions always run inline.
 */
const fanoutSchema = z.strictObject({
  mode: z.enum(['auto', 'inline', 'queue']).default('auto'),
  threshold: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(200)
    .describe('auto: a pass over more clusters than this is queued'),
  clustersPerItem: z.number().int().min(1).max(1000).default(10).describe('clusters per work item'),
});

const syncSchema = z.strictObject({
  source: sourceSchema.describe('{ secret: <name or ARN> }, or a selector: { namePrefix, tags? } or { tags }'),
  /** What to do with the Kubernetes Secrets when the source secret is deleted. */
  deletionPolicy: z.enum(['retain', 'delete']).optional(),
  targets: z.array(targetSchema).min(1),
  rollout: wavesSchema.optional().describe('Health-gated waves of clusters (README "Waves")'),
});

export const configSchema = z.strictObject({
  clusters: z.record(clusterName, clusterSchema).refine((c) => Object.keys(c).length > 0, 'must define a cluster'),
  defaults: z
    .strictObject({
      deletionPolicy: z.enum(['retain', 'delete']).default('retain'),
      /** Clusters worked on at once, and Kubernetes API calls in flight per cluster. */
      clusterConcurrency: z.number().int().min(1).max(64).default(8),
      bindingConcurrency: z.number().int().min(1).max(64).default(4),
      rollout: rolloutSchema.prefault({}),
      fanout: fanoutSchema.prefault({}),
      timeouts: z
        .strictObject({
          kubernetes: z.strictObject(kubernetesTimeouts).prefault({}),
          /** Secrets Manager, EKS and STS requests (the SDK retries timed-out attempts itself). */
          aws: z
            .strictObject({
              connectMs: millis.default(DEFAULT_AWS_TIMEOUTS.connectMs),
              requestMs: millis.default(DEFAULT_AWS_TIMEOUTS.requestMs),
            })
            .prefault({}),
        })
        .prefault({}),
    })
    .prefault({}),
  syncs: z.array(syncSchema).min(1),
});

export type Config = z.output<typeof configSchema>;
/** One configured cluster; `lib/clusters` takes this shape as it is (the schema is its only definition). */
export type ClusterConfig = z.output<typeof clusterSchema>;
/** The `eks` part of a ClusterConfig. */
export type EksClusterConfig = z.output<typeof eksCluster>['eks'];
/** The `kubeconfig` part of a ClusterConfig. */
export type KubeconfigClusterConfig = z.output<typeof kubeconfigCluster>['kubeconfig'];
export type SyncConfig = z.output<typeof syncSchema>;
export type SourceConfig = z.output<typeof sourceSchema>;
export type TargetConfig = z.output<typeof targetSchema>;
export type KeyRef = z.output<typeof keyRef>;
export type RestartConfig = z.output<typeof restartSchema>;
export type TimeoutsConfig = Config['defaults']['timeouts'];
export type RolloutConfig = Config['defaults']['rollout'];
export type FanoutConfig = Config['defaults']['fanout'];
/** A sync's waves, health timeout (ms) and failure policy. */
export type WavesConfig = z.output<typeof wavesSchema>;
