/**
 * The Secret types Kubernetes defines and what its API validation requires of each (ValidateSecret in
 * kubernetes/kubernetes pkg/apis/core/validation/validation.go): checked when the configuration is loaded, where the
 * keys are known from the mapping, and again at every render, where they are known from the secret's value.
 */

interface TypeRule {
  /** Data keys that must all be present. */
  required?: readonly string[];
  /** Data keys of which at least one must be present. */
  anyOf?: readonly string[];
  /** A Secret annotation the type requires. */
  annotation?: string;
}

const RULES: Record<string, TypeRule> = {
  Opaque: {},
  'kubernetes.io/basic-auth': { anyOf: ['username', 'password'] },
  'kubernetes.io/dockercfg': { required: ['.dockercfg'] },
  'kubernetes.io/dockerconfigjson': { required: ['.dockerconfigjson'] },
  'kubernetes.io/service-account-token': { annotation: 'kubernetes.io/service-account.name' },
  'kubernetes.io/ssh-auth': { required: ['ssh-privatekey'] },
  'kubernetes.io/tls': { required: ['tls.crt', 'tls.key'] },
  'bootstrap.kubernetes.io/token': {},
};

/** The built-in Secret types, for editors' completion and for suggestions. */
export const BUILT_IN_SECRET_TYPES: readonly string[] = Object.keys(RULES);

/**
 * Types under `kubernetes.io/` are reserved for the built-in ones: the API server takes any other type as it is, so
 * a typo there (`kubernetes.io/dockercfgjson`) would silently make an unusable Secret. Other prefixes are custom.
 */
export function isUnknownReservedType(type: string): boolean {
  return type.startsWith('kubernetes.io/') && !Object.hasOwn(RULES, type);
}

/**
 * What `type` lacks given a Secret's data key names, as a phrase naming the keys (`needs keys "tls.crt",
 * "tls.key"`), or undefined when nothing is missing.
 */
export function secretTypeKeysProblem(type: string, keys: readonly string[]): string | undefined {
  const rule = Object.hasOwn(RULES, type) ? RULES[type] : undefined;
  if (rule === undefined) return undefined;
  const missing = (rule.required ?? []).filter((k) => !keys.includes(k));
  if (missing.length > 0) return `needs ${missing.length === 1 ? 'key' : 'keys'} ${quoted(missing)}`;
  if (rule.anyOf !== undefined && !rule.anyOf.some((k) => keys.includes(k))) {
    return `needs at least one of the keys ${quoted(rule.anyOf)}`;
  }
  return undefined;
}

/** The annotation `type` requires and the Secret lacks, if any (`kubernetes.io/service-account.name`). */
export function secretTypeMissingAnnotation(type: string, annotations: readonly string[]): string | undefined {
  const annotation = Object.hasOwn(RULES, type) ? RULES[type]?.annotation : undefined;
  return annotation !== undefined && !annotations.includes(annotation) ? annotation : undefined;
}

function quoted(keys: readonly string[]): string {
  return keys.map((k) => `"${k}"`).join(', ');
}
