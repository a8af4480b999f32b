/**
 * EKS access: DescribeCluster (endpoint + CA, cached for the life of the container), optional AssumeRole for
 * cross-account clusters, and bearer tokens cached per (cluster, role) for at most 14 minutes.
 * Token format as aws-iam-authenticator verifies it:
 * https://github.com/kubernetes-sigs/aws-iam-authenticator/blob/master/pkg/token/token.go; the role's access:
 * https://docs.aws.amazon.com/eks/latest/userguide/access-entries.html.
 */
import { DescribeClusterCommand, type DescribeClusterCommandOutput, EKSClient } from '@aws-sdk/client-eks';
import { fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { isRetryableAwsError } from '../aws/errors.js';
import type { EksClusterConfig } from '../config/schema.js';
import { SyncError } from '../errors.js';
import { type AwsTimeouts, DEFAULT_AWS_TIMEOUTS, sdkRequestHandler } from '../timeouts.js';
import { createEksToken, type EksToken } from './eks-token.js';
import type { AwsCredentials, AwsCredentialsProvider } from './types.js';

/** The `eks` part of a ClusterSpec. */
export type EksClusterRef = EksClusterConfig;

/** What DescribeCluster tells us about reaching the API server. */
export interface EksEndpoint {
  /** `https://...` API server URL. */
  endpoint: string;
  /** Base64 PEM of the cluster CA, as client-node's `caData` wants it. */
  caData: string;
}

/** The one EKS call we make; `EKSClient` satisfies it, tests pass a fake. */
export interface EksDescribeClient {
  send(command: DescribeClusterCommand): Promise<Pick<DescribeClusterCommandOutput, 'cluster'>>;
}

export type EksClientFactory = (config: { region: string; credentials: AwsCredentialsProvider }) => EksDescribeClient;

/** Builds the credentials provider for a cross-account role; the default uses STS AssumeRole. */
export type AssumeRoleFactory = (params: {
  roleArn: string;
  externalId?: string;
  region: string;
  masterCredentials: AwsCredentialsProvider;
}) => AwsCredentialsProvider;

export interface EksAccessDeps {
  /** Base credentials; the SDK's default provider chain when omitted. */
  credentials?: AwsCredentialsProvider;
  eksClient?: EksClientFactory;
  assumeRole?: AssumeRoleFactory;
  /** Clock for token and credential expiry. */
  now?: () => Date;
  createToken?: typeof createEksToken;
  /** Timeouts of the default EKS and STS clients (`defaults.timeouts.aws`). */
  awsTimeouts?: Readonly<AwsTimeouts>;
}

export interface EksAccess {
  /** DescribeCluster, cached per (name, region, role) once it succeeds. Throws SyncError `ClusterUnavailable`. */
  describe(ref: EksClusterRef): Promise<EksEndpoint>;
  /** A bearer token, reused until 14 minutes after signing. Throws SyncError `ClusterUnavailable`. */
  token(ref: EksClusterRef): Promise<EksToken>;
  /** Drops the cached DescribeCluster result (the cluster may have been recreated with a new endpoint or CA). */
  forget(ref: EksClusterRef): void;
}

/** Our session name in CloudTrail for assumed roles. */
const ROLE_SESSION_NAME = 'eks-secret-sync';
/** Refresh assumed-role credentials this long before they expire, so a token never outlives its session. */
const CREDENTIALS_REFRESH_MARGIN_MS = 5 * 60_000;
/** An UPDATING cluster (version upgrade, config change) keeps serving its API; refusing it would drop rotations. */
const USABLE_STATUSES = new Set(['ACTIVE', 'UPDATING']);
/** Statuses that may become usable by themselves, so a later retry can succeed. */
const TRANSIENT_STATUSES = new Set(['CREATING', 'PENDING']);

const defaultEksClient =
  (timeouts: Readonly<AwsTimeouts>): EksClientFactory =>
  ({ region, credentials }) =>
    new EKSClient({ region, credentials, requestHandler: sdkRequestHandler(timeouts) });

const defaultAssumeRole =
  (timeouts: Readonly<AwsTimeouts>): AssumeRoleFactory =>
  ({ roleArn, externalId, region, masterCredentials }) =>
    fromTemporaryCredentials({
      params: {
        RoleArn: roleArn,
        RoleSessionName: ROLE_SESSION_NAME,
        ...(externalId === undefined ? {} : { ExternalId: externalId }),
      },
      masterCredentials,
      clientConfig: { region, requestHandler: sdkRequestHandler(timeouts) },
    });

/** Creates the EKS access layer; build it once per container so its caches survive warm invocations. */
export function createEksAccess(deps: EksAccessDeps = {}): EksAccess {
  const now = deps.now ?? (() => new Date());
  const awsTimeouts = deps.awsTimeouts ?? DEFAULT_AWS_TIMEOUTS;
  const makeClient = deps.eksClient ?? defaultEksClient(awsTimeouts);
  const assumeRole = deps.assumeRole ?? defaultAssumeRole(awsTimeouts);
  const createToken = deps.createToken ?? createEksToken;
  const baseCredentials = memoizeCredentials(deps.credentials ?? fromNodeProviderChain(), now);

  const roleCredentials = new Map<string, AwsCredentialsProvider>();
  const clients = new Map<string, EksDescribeClient>();
  const endpoints = new Map<string, Promise<EksEndpoint>>();
  const tokens = new Map<string, Promise<EksToken>>();

  function credentialsFor(ref: EksClusterRef): AwsCredentialsProvider {
    if (ref.roleArn === undefined) return baseCredentials;
    const key = JSON.stringify([ref.roleArn, ref.externalId ?? null, ref.region]);
    let provider = roleCredentials.get(key);
    if (provider === undefined) {
      const assumed = assumeRole({
        roleArn: ref.roleArn,
        region: ref.region,
        masterCredentials: baseCredentials,
        ...(ref.externalId === undefined ? {} : { externalId: ref.externalId }),
      });
      provider = memoizeCredentials(assumed, now);
      roleCredentials.set(key, provider);
    }
    return provider;
  }

  /** Resolves credentials up front so a denied AssumeRole is reported as such, not as a DescribeCluster failure. */
  async function resolveCredentials(ref: EksClusterRef): Promise<AwsCredentials> {
    try {
      return await credentialsFor(ref)();
    } catch (error) {
      const what = ref.roleArn === undefined ? 'resolve AWS credentials' : `assume role ${ref.roleArn}`;
      throw awsFailure(`cannot ${what}`, error);
    }
  }

  async function describeUncached(ref: EksClusterRef): Promise<EksEndpoint> {
    await resolveCredentials(ref);
    const clientKey = JSON.stringify([ref.region, ref.roleArn ?? null, ref.externalId ?? null]);
    let client = clients.get(clientKey);
    if (client === undefined) {
      client = makeClient({ region: ref.region, credentials: credentialsFor(ref) });
      clients.set(clientKey, client);
    }
    let output: Pick<DescribeClusterCommandOutput, 'cluster'>;
    try {
      output = await client.send(new DescribeClusterCommand({ name: ref.name }));
    } catch (error) {
      throw awsFailure(`DescribeCluster "${ref.name}" in ${ref.region} failed`, error);
    }
    const cluster = output.cluster;
    const status = cluster?.status ?? 'UNKNOWN';
    if (!USABLE_STATUSES.has(status)) {
      throw new SyncError('ClusterUnavailable', `EKS cluster "${ref.name}" in ${ref.region} is ${status}, not ACTIVE`, {
        retryable: TRANSIENT_STATUSES.has(status),
      });
    }
    const endpoint = cluster?.endpoint;
    const caData = cluster?.certificateAuthority?.data;
    if (endpoint === undefined || !endpoint.startsWith('https://') || caData === undefined || caData === '') {
      throw new SyncError(
        'ClusterUnavailable',
        `EKS cluster "${ref.name}" in ${ref.region} has no https endpoint or certificate authority yet`,
        { retryable: true },
      );
    }
    return { endpoint, caData };
  }

  async function tokenUncached(ref: EksClusterRef): Promise<EksToken> {
    const credentials = await resolveCredentials(ref);
    try {
      return await createToken({ clusterName: ref.name, region: ref.region, credentials, now: now() });
    } catch (error) {
      throw new SyncError('ClusterUnavailable', `cannot sign an EKS token for "${ref.name}"`, { cause: error });
    }
  }

  async function token(ref: EksClusterRef): Promise<EksToken> {
    const key = cacheKey(ref);
    const cached = tokens.get(key);
    if (cached !== undefined) {
      // A failed signing rejects every caller that shared it; its entry is already gone, so the next call retries.
      const existing = await cached;
      if (existing.expiresAt.getTime() > now().getTime()) return existing;
      if (tokens.get(key) === cached) tokens.delete(key);
      // Either another caller has started a replacement meanwhile (share it) or we start one.
      return token(ref);
    }
    const pending = tokenUncached(ref);
    tokens.set(key, pending);
    pending.catch(() => {
      if (tokens.get(key) === pending) tokens.delete(key);
    });
    return pending;
  }

  function describe(ref: EksClusterRef): Promise<EksEndpoint> {
    const key = cacheKey(ref);
    let pending = endpoints.get(key);
    if (pending === undefined) {
      pending = describeUncached(ref);
      endpoints.set(key, pending);
      // Failures are not cached: the next connect tries again.
      pending.catch(() => endpoints.delete(key));
    }
    return pending;
  }

  function forget(ref: EksClusterRef): void {
    endpoints.delete(cacheKey(ref));
  }

  return { describe, token, forget };
}

function cacheKey(ref: EksClusterRef): string {
  return JSON.stringify([ref.name, ref.region, ref.roleArn ?? null, ref.externalId ?? null]);
}

/**
 * Caches resolved credentials until shortly before they expire; concurrent callers share one resolution.
 * (The SDK memoizes inside its clients, but we also resolve credentials ourselves to presign tokens.)
 */
function memoizeCredentials(provider: AwsCredentialsProvider, now: () => Date): AwsCredentialsProvider {
  let value: AwsCredentials | undefined;
  let inFlight: Promise<AwsCredentials> | undefined;
  return () => {
    if (value !== undefined) {
      const expiration = value.expiration?.getTime();
      if (expiration === undefined || expiration - now().getTime() > CREDENTIALS_REFRESH_MARGIN_MS) {
        return Promise.resolve(value);
      }
    }
    inFlight ??= provider()
      .then((resolved) => {
        value = resolved;
        return resolved;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}

/** Translates an AWS SDK error; its name and message (identities, ARNs, actions) carry no secret data. */
function awsFailure(what: string, error: unknown): SyncError {
  const detail = describeAwsError(error);
  return new SyncError('ClusterUnavailable', `${what}: ${detail}`, {
    cause: error,
    retryable: isRetryableAwsError(error),
  });
}

function describeAwsError(error: unknown): string {
  if (!(error instanceof Error)) return `unexpected ${typeof error}`;
  if (error instanceof SyncError) return error.message;
  const message = error.message.length > 300 ? `${error.message.slice(0, 300)}...` : error.message;
  return message === '' ? error.name : `${error.name}: ${message}`;
}
