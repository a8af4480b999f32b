/**
 * Secret identity helpers. A Secrets Manager ARN is `arn:<partition>:secretsmanager:<region>:<account>:secret:`
 * followed by the name and a `-` + 6 random characters; names may contain `/` and may themselves end in `-` + 6
 * characters, so only Secrets Manager can say which secret an id names. The engine decides identity on the ARN
 * Secrets Manager returns (`refersTo`); the textual `mayNameSameSecret` only rules candidates out.
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html#iam-resources
 */

/** A secret as named by an event or an API response; either part may be missing. */
export interface SecretIdRef {
  arn?: string;
  name?: string;
}

/** A secret as Secrets Manager itself reported it: its full ARN and its name. */
export interface SecretIdentity {
  arn: string;
  name: string;
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
 * The secret name inside an ARN, with the 6-character suffix removed; `undefined` if not a secret ARN. A guess, used
 * only to derive default Kubernetes names from configured ARNs: a partial ARN whose name itself ends in `-` + 6
 * characters is read wrongly (AWS advises against such names). Never decides identity.
 */
export function nameFromArn(arn: string): string | undefined {
  const resource = resourceOf(arn);
  if (resource === undefined || resource === '') return undefined;
  const withoutSuffix = resource.slice(0, -7);
  return withoutSuffix !== '' && SUFFIX.test(resource.slice(-7)) ? withoutSuffix : resource;
}

/** The partial ARN (without the random suffix) of a secret whose full ARN and name are known, or undefined. */
export function partialArnOf(secret: SecretIdentity): string | undefined {
  const resource = resourceOf(secret.arn);
  if (resource === undefined || !resource.startsWith(secret.name)) return undefined;
  if (!SUFFIX.test(resource.slice(secret.name.length))) return undefined;
  return secret.arn.slice(0, secret.arn.length - resource.length) + secret.name;
}

/**
 * Whether `arn` (a full or a partial ARN) is the ARN of `secret` as Secrets Manager reported it. Exact: the partial
 * form is built from the known name, never guessed from the suffix's shape.
 */
export function isArnOf(arn: string, secret: SecretIdentity): boolean {
  return arn === secret.arn || arn === partialArnOf(secret);
}

/**
 * Whether an id a caller may pass to Secrets Manager (name, full ARN or partial ARN) names `secret`. A name is
 * taken in `secret`'s own account and region: use it only where that is given (one response, one listing).
 */
export function refersTo(id: string, secret: SecretIdentity): boolean {
  return isSecretArn(id) ? isArnOf(id, secret) : id === secret.name;
}

/** Equal ARNs, or one is the partial form (no suffix) of the other, by the suffix's shape. */
function arnsMayMatch(a: string, b: string): boolean {
  if (a === b) return true;
  const [shorter, longer] = a.length < b.length ? [a, b] : [b, a];
  return longer.startsWith(shorter) && SUFFIX.test(longer.slice(shorter.length));
}

/** A plain name against an ARN: the ARN's resource is the name, with or without something shaped like a suffix. */
function nameMayMatchArn(name: string, arn: string): boolean {
  const resource = resourceOf(arn);
  if (resource === undefined) return false;
  return resource === name || (resource.startsWith(name) && SUFFIX.test(resource.slice(name.length)));
}

/**
 * A cheap textual pre-filter: `false` when a configured secret (name, full or partial ARN) certainly is not the
 * secret an event names, `true` when it may be. `true` must be confirmed with Secrets Manager: the configured
 * `prod/db` "may be" the partial ARN `...:secret:prod/db-backup` (`-backup` has the suffix's shape), and is not.
 */
export function mayNameSameSecret(configured: string, ref: SecretIdRef): boolean {
  // Events carry ids "as the caller passed them": an `arn` field may hold a name and vice versa.
  const ids = [ref.arn, ref.name].filter((id): id is string => id !== undefined && id !== '');
  const arn = ids.find(isSecretArn);
  const name = ids.find((id) => !isSecretArn(id));

  if (isSecretArn(configured)) {
    if (arn !== undefined) return arnsMayMatch(configured, arn);
    if (name === undefined) return false;
    return name === resourceOf(configured) || name === nameFromArn(configured);
  }
  if (name !== undefined) return name === configured;
  return arn !== undefined && nameMayMatchArn(configured, arn);
}

/** The resource part of an ARN (`name` or `name-XXXXXX`), or the id itself for a name: what a name prefix sees. */
export function resourceText(id: string): string {
  return resourceOf(id) ?? id;
}
