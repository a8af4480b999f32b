/**
 * How to reach each configured cluster. `lib/config` produces these shapes from the configuration file;
 * `connector.ts` turns them into Kubernetes API handles.
 */
import type { KubeTimeouts } from '../timeouts.js';

/** An EKS cluster found by DescribeCluster, or a context of a local kubeconfig file. */
export type ClusterSpec = (
  | { eks: { name: string; region: string; roleArn?: string; externalId?: string } }
  | {
      kubeconfig: {
        path: string;
        context: string;
        /** TLS verification is skipped only when this is `true`; a kubeconfig asking for it is refused otherwise. */
        skipTLSVerify?: boolean;
      };
    }
) & {
  /** This cluster's own timeouts; unset fields come from the connector's defaults. */
  timeouts?: Partial<KubeTimeouts> | undefined;
};

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
