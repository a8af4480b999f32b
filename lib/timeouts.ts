/**
 * Request timeouts, shared by the configuration (its defaults) and the adapters that apply them. Every default is
 * far under the functions' own timeouts (onRotation: 120 s), so one cluster or endpoint that accepts connections
 * and never answers fails its own bindings, not the whole invocation.
 */

/** Per-request timeouts of Kubernetes API calls, in milliseconds. */
export interface KubeTimeouts {
  /** TCP connect and TLS handshake. */
  connectMs: number;
  /** From the request sent to the response headers. */
  headersMs: number;
  /** The longest pause while the response body arrives. */
  bodyMs: number;
}

/** Timeouts of AWS SDK requests (Secrets Manager, EKS, STS), per attempt, in milliseconds. */
export interface AwsTimeouts {
  /** TCP connect and TLS handshake. */
  connectMs: number;
  /** The whole attempt, answer included; the SDK retries a timed-out attempt itself (3 attempts in all). */
  requestMs: number;
}

/** undici's own defaults are 10 s to connect and 300 s for headers and body: longer than onRotation lives. */
export const DEFAULT_KUBE_TIMEOUTS: Readonly<KubeTimeouts> = { connectMs: 5_000, headersMs: 15_000, bodyMs: 15_000 };

/** The SDK's defaults are no timeout at all. */
export const DEFAULT_AWS_TIMEOUTS: Readonly<AwsTimeouts> = { connectMs: 5_000, requestMs: 15_000 };

/** The `requestHandler` option of an AWS SDK v3 client with these timeouts (NodeHttpHandler options). */
export function sdkRequestHandler(timeouts: AwsTimeouts = DEFAULT_AWS_TIMEOUTS): {
  connectionTimeout: number;
  requestTimeout: number;
  throwOnRequestTimeout: true;
} {
  // Without throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes and keeps waiting.
  return { connectionTimeout: timeouts.connectMs, requestTimeout: timeouts.requestMs, throwOnRequestTimeout: true };
}
