/**
 * How to reach each configured cluster. The shapes are the configuration schema's (`lib/config/schema.ts`);
 * `connector.ts` turns them into Kubernetes API handles.
 */
import type { ClusterConfig } from '../config/schema.js';

/** An EKS cluster found by DescribeCluster, or a context of a local kubeconfig file, with its own timeouts. */
export type ClusterSpec = ClusterConfig;

/** Keyed by our cluster name (the name used in `syncs[].targets[].clusters`). */
export type ClusterSpecs = Record<string, ClusterSpec>;

/** AWS credentials, structurally the SDK's `AwsCredentialIdentity`. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** Structurally the SDK's `AwsCredentialIdentityProvider`, so SDK providers can be passed as they are. */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;
