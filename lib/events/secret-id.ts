/**
 * Secret identity helpers. A Secrets Manager ARN is `arn:<partition>:secretsmanager:<region>:<account>:secret:`
 * followed by the name and a `-` + 6 random characters; names may contain `/`, so only the ARN pins a secret.
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html#iam-resources
 */

/** A secret as named by an event or an API response; either part may be missing. */
export interface SecretIdRef {
  arn?: string;
  name?: string;
}

const ARN_PREFIX = /^arn:[a-z0-9-]+:secretsmanager:[a-z0-9-]*:\d*:secret:/;
// The random suffix AWS appends to the name inside an ARN.
const SUFFIX = /^-[A-Za-z0-9]{6}$/;

/** Whether `id` is shaped like a Secrets Manager secret ARN (full or partial). */
export function isSecretArn(id: string): boolean {
  return ARN_PREFIX.test(id);
}

/** The part of an ARN after `:secret:` (name plus suffix for a full ARN, name only for a partial one). */
function resourceOf(arn: string): string | undefined {
  const match = ARN_PREFIX.exec(arn);
  return match === null ? undefined : arn.slice(match[0].length);
}

/**
 * The secret name inside an ARN, with the 6-character suffix removed; `undefined` if not a secret ARN.
 * A partial ARN whose name itself ends in `-` + 6 characters is ambiguous; AWS advises against such names.
 */
export function nameFromArn(arn: string): string | undefined {
  const resource = resourceOf(arn);
  if (resource === undefined || resource === '') return undefined;
  const withoutSuffix = resource.slice(0, -7);
  return withoutSuffix !== '' && SUFFIX.test(resource.slice(-7)) ? withoutSuffix : resource;
}

/** Equal ARNs, or one is the partial form (no suffix) of the other. */
function arnsMatch(a: string, b: string): boolean {
  if (a === b) return true;
  const [shorter, longer] = a.length < b.length ? [a, b] : [b, a];
  return longer.startsWith(shorter) && SUFFIX.test(longer.slice(shorter.length));
}

/** A plain name against an ARN: the ARN's resource is the name, with or without the suffix. */
function nameMatchesArn(name: string, arn: string): boolean {
  const resource = resourceOf(arn);
  if (resource === undefined) return false;
  return resource === name || (resource.startsWith(name) && SUFFIX.test(resource.slice(name.length)));
}

/**
 * Whether a configured secret (name, full ARN or partial ARN) is the secret an event or response names.
 * The ARN decides when both sides have one (it includes account and region); otherwise names are compared.
 */
export function matchesSecretId(configured: string, ref: SecretIdRef): boolean {
  // Events carry ids "as the caller passed them": an `arn` field may hold a name and vice versa.
  const ids = [ref.arn, ref.name].filter((id): id is string => id !== undefined && id !== '');
  const arn = ids.find(isSecretArn);
  const name = ids.find((id) => !isSecretArn(id));

  if (isSecretArn(configured)) {
    if (arn !== undefined) return arnsMatch(configured, arn);
    if (name === undefined) return false;
    return name === resourceOf(configured) || name === nameFromArn(configured);
  }
  if (name !== undefined) return name === configured;
  return arn !== undefined && nameMatchesArn(configured, arn);
}
