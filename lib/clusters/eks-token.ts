/**
 * The EKS bearer token, made the way `aws eks get-token` and aws-iam-authenticator make it: a presigned STS
 * GetCallerIdentity URL. Presigning is local (no STS call, no IAM permission); the API server's authenticator
 * replays the URL to learn who we are.
 * Reference: https://github.com/kubernetes-sigs/aws-iam-authenticator/blob/master/pkg/token/token.go
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentials } from './types.js';

const TOKEN_PREFIX = 'k8s-aws-v1.';
/** The header that binds the token to one cluster; it must be signed, so it stays a header (not hoisted). */
const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/** The authenticator insists on X-Amz-Expires (0..900) but enforces its own 15 minutes; 60 is what the CLI sends. */
const PRESIGN_EXPIRES_SECONDS = 60;
/** Tokens are accepted for 15 minutes from X-Amz-Date; like aws-iam-authenticator, stop using them a minute early. */
export const EKS_TOKEN_TTL_MS = 14 * 60_000;
/**
 * Stop using a token this long before the credentials that signed it expire: the API server replays the URL when
 * the request arrives (after connecting, under clock skew), and an expired session makes that a 401.
 */
export const CREDENTIALS_EXPIRY_MARGIN_MS = 60_000;
/** The authenticator rejects longer tokens. */
const MAX_TOKEN_LENGTH = 4096;

export interface EksTokenInput {
  /** The EKS cluster name (not our configuration's name for it). */
  clusterName: string;
  region: string;
  credentials: AwsCredentials;
  /** Signing time; defaults to the current time. */
  now?: Date;
}

export interface EksToken {
  token: string;
  /**
   * When to stop using the token: 14 minutes after signing, or a minute before the signing credentials expire if
   * that is earlier.
   */
  expiresAt: Date;
}

/** Makes a `k8s-aws-v1.` bearer token for an EKS cluster from resolved AWS credentials. */
export async function createEksToken(input: EksTokenInput): Promise<EksToken> {
  const { clusterName, region, credentials } = input;
  const now = input.now ?? new Date();
  const hostname = stsHostname(region);
  const signer = new SignatureV4({ service: 'sts', region, credentials, sha256: Sha256 });
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    headers: { host: hostname, [CLUSTER_ID_HEADER]: clusterName },
  });
  const signed = await signer.presign(request, { signingDate: now, expiresIn: PRESIGN_EXPIRES_SECONDS });
  const url = `https://${hostname}/?${formatQuery(signed.query ?? {})}`;
  const token = TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url');
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new Error(
      `EKS token for cluster "${clusterName}" is ${token.length} characters, over the ${MAX_TOKEN_LENGTH} limit`,
    );
  }
  let expiresAt = now.getTime() + EKS_TOKEN_TTL_MS;
  // A presigned URL dies with the session that signed it.
  if (credentials.expiration !== undefined) {
    expiresAt = Math.min(expiresAt, credentials.expiration.getTime() - CREDENTIALS_EXPIRY_MARGIN_MS);
  }
  return { token, expiresAt: new Date(expiresAt) };
}

/** The regional STS endpoint: the authenticator accepts regional hosts only, and China has its own domain. */
export function stsHostname(region: string): string {
  // The region becomes part of a host name; refuse anything that could change which host that is.
  if (!/^[a-z]{2}(-[a-z0-9]+)+$/.test(region)) throw new Error(`invalid AWS region "${region}"`);
  return `sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

function formatQuery(query: Record<string, string | string[] | null | undefined>): string {
  return Object.keys(query)
    .sort()
    .flatMap((key) => {
      const value = query[key];
      if (value === null || value === undefined) return [];
      const values = Array.isArray(value) ? value : [value];
      return values.map((v) => `${uriEscape(key)}=${uriEscape(v)}`);
    })
    .join('&');
}

/** RFC 3986 encoding, as SigV4 canonicalises it (encodeURIComponent leaves `!'()*` alone). */
function uriEscape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
