/**
 * SecretStore and ClusterSecretStore manifests -> what import needs of them: whether they read AWS Secrets Manager,
 * and in which region. Facts from ESO's AWS provider reference (`spec.provider.aws`): `service` is `SecretsManager`
 * or `ParameterStore`; `region` is where the secrets are; `role` (and `additionalRoles`, `externalID`,
 * `sessionTags`, `transitiveTagKeys`) is assumed before reading; `auth` (`secretRef` access keys or `jwt`
 * service-account token) is how ESO gets AWS credentials; `prefix` is prepended to remote keys; `secretsManager`
 * holds PushSecret's deletion settings. A SecretStore is namespaced (ExternalSecrets of its namespace use it); a
 * ClusterSecretStore serves every namespace (`conditions` may restrict which).
 */
import { isRecord, type Json, type Manifest } from './manifests.js';
import type { Finding } from './types.js';

export const ESO_GROUP = 'external-secrets.io';

export interface Store {
  kind: 'SecretStore' | 'ClusterSecretStore';
  name: string;
  where: string;
  /** The region of an AWS Secrets Manager store, when it says one. */
  region?: string;
  /** Why its ExternalSecrets cannot be imported (another provider, Parameter Store); undefined for AWS SM. */
  unsupported?: string;
  /** Settings of the store with no equivalent, each with its place. */
  findings: Finding[];
}

/** The lookup key of a store: ClusterSecretStores by name, SecretStores by namespace and name. */
export function storeKey(kind: string, name: string, namespace: string | undefined): string {
  return kind === 'ClusterSecretStore' ? `ClusterSecretStore/${name}` : `SecretStore/${namespace ?? ''}/${name}`;
}

/** AWS provider fields import reads or that our own identity replaces (the functions' role reads Secrets Manager). */
const AWS_KNOWN = new Set(['service', 'region', 'auth']);

/** The store a manifest describes (its kind is SecretStore or ClusterSecretStore). */
export function readStore(manifest: Manifest, kind: Store['kind']): Store {
  const metadata = isRecord(manifest.body.metadata) ? manifest.body.metadata : {};
  const spec = isRecord(manifest.body.spec) ? manifest.body.spec : {};
  const provider = isRecord(spec.provider) ? spec.provider : {};
  const store: Store = { kind, name: String(metadata.name ?? ''), where: manifest.where, findings: [] };
  const providers = Object.keys(provider);
  const aws = provider.aws;
  if (!isRecord(aws)) {
    store.unsupported = `store "${store.name}" uses the ${providers.join(', ') || 'unknown'} provider (only AWS Secrets Manager is imported)`;
    return store;
  }
  const service = aws.service ?? 'SecretsManager';
  if (service !== 'SecretsManager') {
    store.unsupported = `store "${store.name}" reads AWS ${String(service)} (only Secrets Manager is imported)`;
    return store;
  }
  if (typeof aws.region === 'string') store.region = aws.region;
  const at = `${manifest.where}.spec.provider.aws`;
  for (const field of Object.keys(aws)
    .filter((f) => !AWS_KNOWN.has(f))
    .sort()) {
    store.findings.push({
      place: `${at}.${field}`,
      reason:
        field === 'role' || field === 'additionalRoles' || field === 'externalID'
          ? 'the functions read Secrets Manager with their own role, assuming none: grant that role access instead'
          : 'has no equivalent',
    });
  }
  for (const field of Object.keys(spec)
    .filter((f) => f !== 'provider')
    .sort()) {
    store.findings.push({ place: `${manifest.where}.spec.${field}`, reason: 'has no equivalent' });
  }
  return store;
}

/** The stores of a set of manifests, by storeKey. */
export function readStores(manifests: readonly Manifest[], defaultNamespace?: string): Map<string, Store> {
  const stores = new Map<string, Store>();
  for (const m of manifests) {
    const kind = esoKind(m.body);
    if (kind !== 'SecretStore' && kind !== 'ClusterSecretStore') continue;
    const store = readStore(m, kind);
    const metadata = m.body.metadata as Json | undefined;
    const namespace = typeof metadata?.namespace === 'string' ? metadata.namespace : defaultNamespace;
    stores.set(storeKey(kind, store.name, namespace), store);
  }
  return stores;
}

/**
 * The kind of an External Secrets Operator object (its groups: `external-secrets.io`, `generators.external-secrets.io`),
 * or undefined for any other object.
 */
export function esoKind(body: Json): string | undefined {
  const apiVersion = typeof body.apiVersion === 'string' ? body.apiVersion : '';
  const group = apiVersion.split('/')[0] ?? '';
  if (group !== ESO_GROUP && !group.endsWith(`.${ESO_GROUP}`)) return undefined;
  return typeof body.kind === 'string' ? body.kind : '';
}
