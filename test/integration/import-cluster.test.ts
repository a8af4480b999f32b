/**
 * `import --context`: ExternalSecrets and stores read from a real API server. The ESO CRDs (schema-less, as far as
 * import is concerned) are installed on the first stack cluster if absent; no ESO controller runs.
 */
import { ApiextensionsV1Api, CustomObjectsApi, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../lib/cli/run.js';
import { checkConfig } from '../../lib/config/index.js';
import { capturedIO } from '../support/cli.js';
import { adminKubeConfig, type FreshNamespace, freshNamespace, stack, waitFor } from '../support/stack.js';

const GROUP = 'external-secrets.io';

function crd(kind: string, plural: string, scope: 'Namespaced' | 'Cluster'): V1CustomResourceDefinition {
  const schema = { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } };
  return {
    metadata: { name: `${plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope,
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        { name: 'v1', served: true, storage: true, schema },
        { name: 'v1beta1', served: true, storage: false, schema },
      ],
    },
  };
}

/** Creates (or brings up to date) the CRD, and waits until the API server serves it. */
async function ensureCrd(
  api: ApiextensionsV1Api,
  objects: CustomObjectsApi,
  body: V1CustomResourceDefinition,
): Promise<void> {
  const name = body.metadata?.name as string;
  try {
    await api.createCustomResourceDefinition({ body });
  } catch (error) {
    if ((error as { code?: number }).code !== 409) throw error;
    const existing = await api.readCustomResourceDefinition({ name });
    const metadata = { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion as string };
    await api.replaceCustomResourceDefinition({ name, body: { ...body, metadata } });
  }
  await waitFor(async () => {
    const read = await api.readCustomResourceDefinition({ name });
    return read.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? true : undefined;
  });
  // Established is set before every handler serves the resource: list it until the server answers.
  const plural = body.spec.names.plural;
  await waitFor(() => objects.listClusterCustomObject({ group: GROUP, version: 'v1', plural }).then(() => true));
}

let cluster: string;
let ns: FreshNamespace;

/** The CLI's output, captured. */
const capture = () => capturedIO(process.cwd());

beforeAll(async () => {
  cluster = stack().clusters[0] as string;
  const kc = adminKubeConfig(cluster);
  const extensions = kc.makeApiClient(ApiextensionsV1Api);
  const objects = kc.makeApiClient(CustomObjectsApi);
  await ensureCrd(extensions, objects, crd('ExternalSecret', 'externalsecrets', 'Namespaced'));
  await ensureCrd(extensions, objects, crd('SecretStore', 'secretstores', 'Namespaced'));
  await ensureCrd(extensions, objects, crd('ClusterSecretStore', 'clustersecretstores', 'Cluster'));
  ns = await freshNamespace([cluster], { bound: false, prefix: 'import' });
  const create = (plural: string, kind: string, name: string, spec: Record<string, unknown>) =>
    objects.createNamespacedCustomObject({
      group: GROUP,
      version: 'v1',
      namespace: ns.name,
      plural,
      body: { apiVersion: `${GROUP}/v1`, kind, metadata: { name, namespace: ns.name }, spec },
    });
  await create('secretstores', 'SecretStore', 'aws', {
    provider: { aws: { service: 'SecretsManager', region: 'eu-west-1' } },
  });
  await create('externalsecrets', 'ExternalSecret', 'db', {
    secretStoreRef: { name: 'aws' },
    target: { name: 'db-credentials' },
    data: [{ secretKey: 'DB_USER', remoteRef: { key: 'prod/db', property: 'username' } }],
    refreshInterval: '0',
  });
});

afterAll(async () => {
  await ns?.cleanup();
});

describe('import --context', () => {
  it('imports the ExternalSecrets and stores a kubeconfig context serves, placing findings by object', async () => {
    const { io, out } = capture();
    const argv = ['import', '--context', cluster, '--kubeconfig', stack().kubeconfig];
    const code = await runCli([...argv, '--cluster', 'prod-eu', '--namespace', ns.name], io);

    // refreshInterval "0" (fetch once) has no equivalent: listed by its place in the cluster, exit 1.
    expect(code).toBe(1);
    expect(out.stderr).toContain(`  ${cluster}:ExternalSecret/${ns.name}/db.spec.refreshInterval: 0 fetches once`);
    const { config, issues } = checkConfig(out.stdout);
    expect(issues).toEqual([]);
    expect(config?.syncs).toEqual([
      expect.objectContaining({
        source: { secret: 'prod/db' },
        targets: [
          expect.objectContaining({ namespaces: [ns.name], secret: 'db-credentials', keys: { DB_USER: 'username' } }),
        ],
      }),
    ]);
    expect(out.stdout).toContain(`# from ExternalSecret ${ns.name}/db (${cluster}:ExternalSecret/${ns.name}/db)`);
    expect(config?.clusters['prod-eu']).toEqual({ eks: { name: 'prod-eu', region: 'eu-west-1' } });
  });

  it('exits 2 naming the context when the kubeconfig has no such context', async () => {
    const { io, out } = capture();
    const code = await runCli(
      ['import', '--context', 'no-such-context', '--kubeconfig', stack().kubeconfig, '--cluster', 'prod-eu'],
      io,
    );
    expect(code).toBe(2);
    expect(out.stderr).toContain('no context "no-such-context"');
  });
});
