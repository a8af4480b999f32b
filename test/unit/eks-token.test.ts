import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CREDENTIALS_EXPIRY_MARGIN_MS,
  createEksToken,
  EKS_TOKEN_TTL_MS,
  stsHostname,
} from '../../lib/clusters/eks-token.js';
import type { AwsCredentials } from '../../lib/clusters/types.js';

const NOW = new Date('2025-03-04T05:06:07.000Z');
const STATIC: AwsCredentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const SESSION: AwsCredentials = {
  accessKeyId: 'ASIAEXAMPLE',
  secretAccessKey: 'c2Vzc2lvbi1zZWNyZXQ=/+example',
  // Session tokens are long and full of characters that need escaping.
  sessionToken: `IQoJb3JpZ2luX2VjE+/=${'x'.repeat(900)}`,
  expiration: new Date(NOW.getTime() + 60 * 60_000),
};

/** The query parameters the EKS authenticator accepts (aws-iam-authenticator pkg/token/token.go). */
const WHITELIST = new Set([
  'Action',
  'Version',
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-Security-Token',
  'X-Amz-Signature',
  'X-Amz-SignedHeaders',
]);

function decode(token: string): URL {
  expect(token.startsWith('k8s-aws-v1.')).toBe(true);
  return new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf8'));
}

/** A token for `clusterName` in `region`, signed at NOW (prod-eu in eu-west-1 with long-term keys unless told). */
function sign(credentials: AwsCredentials = STATIC, clusterName = 'prod-eu', region = 'eu-west-1') {
  return createEksToken({ clusterName, region, credentials, now: NOW });
}

function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** An independent SigV4 check of the presigned URL, as STS will do it with the header the API server adds back. */
function expectedSignature(url: URL, clusterName: string, secretAccessKey: string): string {
  const params = [...url.searchParams.entries()].filter(([key]) => key !== 'X-Amz-Signature');
  const canonicalQuery = params
    .map(([key, value]) => `${rfc3986(key)}=${rfc3986(value)}`)
    .sort()
    .join('&');
  const signedHeaders = url.searchParams.get('X-Amz-SignedHeaders') ?? '';
  const headers: Record<string, string> = { host: url.host, 'x-k8s-aws-id': clusterName };
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => `${name}:${headers[name]}\n`)
    .join('');
  const emptyPayload = createHash('sha256').update('').digest('hex');
  const canonicalRequest = ['GET', '/', canonicalQuery, canonicalHeaders, signedHeaders, emptyPayload].join('\n');
  const [, date, region, service] = (url.searchParams.get('X-Amz-Credential') ?? '').split('/');
  const longDate = url.searchParams.get('X-Amz-Date') ?? '';
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    longDate,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${secretAccessKey}`)
    .update(date ?? '')
    .digest();
  for (const part of [region ?? '', service ?? '', 'aws4_request'])
    key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

describe('createEksToken', () => {
  it('prefixes k8s-aws-v1. and encodes base64url without padding', async () => {
    // Act
    const { token } = await sign();

    // Assess
    expect(token.startsWith('k8s-aws-v1.')).toBe(true);
    expect(token.slice('k8s-aws-v1.'.length)).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(token.length).toBeLessThanOrEqual(4096);
  });

  it('presigns GetCallerIdentity over https to the regional STS host at path /', async () => {
    // Act
    const { token } = await sign();

    // Assess
    const url = decode(token);
    expect(url.protocol).toBe('https:');
    expect(url.host).toBe('sts.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/');
    expect(url.searchParams.get('Action')).toBe('GetCallerIdentity');
    expect(url.searchParams.get('Version')).toBe('2011-06-15');
  });

  it('sends only whitelisted query parameters, each once', async () => {
    // Act
    const url = decode((await sign(SESSION)).token);

    // Assess
    const keys = [...url.searchParams.keys()];
    expect(keys.filter((key) => !WHITELIST.has(key))).toEqual([]);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('sets X-Amz-Expires within 0..900 and dates the signature with the given time', async () => {
    // Act
    const url = decode((await sign()).token);

    // Assess
    const expires = Number(url.searchParams.get('X-Amz-Expires'));
    expect(expires).toBeGreaterThan(0);
    expect(expires).toBeLessThanOrEqual(900);
    expect(url.searchParams.get('X-Amz-Date')).toBe('20250304T050607Z');
    expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(url.searchParams.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20250304/eu-west-1/sts/aws4_request');
  });

  it('signs the x-k8s-aws-id header, binding the token to the cluster', async () => {
    // Act
    const url = decode((await sign()).token);

    // Assess
    const signedHeaders = (url.searchParams.get('X-Amz-SignedHeaders') ?? '').split(';');
    expect(signedHeaders).toContain('x-k8s-aws-id');
    expect(signedHeaders).toContain('host');
    expect(url.searchParams.get('X-Amz-Signature')).toBe(expectedSignature(url, 'prod-eu', STATIC.secretAccessKey));
    expect(url.searchParams.get('X-Amz-Signature')).not.toBe(expectedSignature(url, 'prod-us', STATIC.secretAccessKey));
  });

  it('puts no security token in the query for long-term credentials', async () => {
    // Act
    const url = decode((await sign()).token);

    // Assess
    expect(url.searchParams.has('X-Amz-Security-Token')).toBe(false);
  });

  it('puts the session token in the query for session credentials and still signs correctly', async () => {
    // Act
    const { token } = await sign(SESSION, 'prod-us', 'us-east-1');

    // Assess
    const url = decode(token);
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe(SESSION.sessionToken);
    expect(url.searchParams.get('X-Amz-Signature')).toBe(expectedSignature(url, 'prod-us', SESSION.secretAccessKey));
    expect(token.length).toBeLessThanOrEqual(4096);
  });

  it('uses the .amazonaws.com.cn STS host in China regions', async () => {
    // Act
    const url = decode((await sign(STATIC, 'cn', 'cn-north-1')).token);

    // Assess
    expect(url.host).toBe('sts.cn-north-1.amazonaws.com.cn');
    expect(stsHostname('cn-northwest-1')).toBe('sts.cn-northwest-1.amazonaws.com.cn');
    expect(stsHostname('us-gov-west-1')).toBe('sts.us-gov-west-1.amazonaws.com');
  });

  it('expires 14 minutes after signing, inside the 15 minutes the API server allows', async () => {
    // Act
    const { expiresAt } = await sign();

    // Assess
    expect(EKS_TOKEN_TTL_MS).toBeLessThanOrEqual(14 * 60_000);
    expect(expiresAt.getTime() - NOW.getTime()).toBe(EKS_TOKEN_TTL_MS);
  });

  it('expires a minute before the credentials when they expire first', async () => {
    // Prepare
    const expiration = new Date(NOW.getTime() + 5 * 60_000);

    // Act
    const { expiresAt } = await sign({ ...SESSION, expiration });

    // Assess
    expect(CREDENTIALS_EXPIRY_MARGIN_MS).toBeGreaterThanOrEqual(60_000);
    expect(expiresAt.getTime()).toBe(expiration.getTime() - CREDENTIALS_EXPIRY_MARGIN_MS);
  });

  it('refuses a region that would change the STS host', async () => {
    // Act / Assess
    await expect(sign(STATIC, 'x', 'evil.example.com/')).rejects.toThrow('invalid AWS region');
  });

  it('never puts the secret access key in the token', async () => {
    // Act
    const { token } = await sign(SESSION, 'prod-us', 'us-east-1');

    // Assess
    expect(decode(token).toString()).not.toContain(encodeURIComponent(SESSION.secretAccessKey));
    expect(decode(token).toString()).not.toContain(SESSION.secretAccessKey);
  });
});
