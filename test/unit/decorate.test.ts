import { describe, expect, it } from 'vitest';
import { callNamespace, decorate, KUBE_CALLS, type KubeCallContext } from '../../lib/sync/calls/decorate.js';
import type { KubeSecretWrite } from '../../lib/sync/ports/kube.js';
import { FakeKubeApi } from '../support/fakes.js';

const write = (namespace: string, resourceVersion?: string): KubeSecretWrite => ({
  namespace,
  name: 'db',
  type: 'Opaque',
  data: {},
  labels: {},
  annotations: {},
  ...(resourceVersion === undefined ? {} : { resourceVersion }),
});

describe('decorate', () => {
  it('runs every call of the port through around with its name, cluster and arguments, and returns its result', async () => {
    // Prepare
    const api = new FakeKubeApi('c1', { namespaces: ['app'] });
    const seen: KubeCallContext[] = [];
    const decorated = decorate(api, (context, next) => {
      seen.push(context);
      return next();
    });

    // Act
    const created = await decorated.createSecret(write('app'));
    const read = await decorated.getSecret('app', 'db');
    const metadata = await decorated.getSecretMetadata('app', 'db');
    await decorated.replaceSecret(write('app', created.resourceVersion));
    await decorated.clearSecretAnnotation('app', 'db', 'k', 'v');
    await decorated.annotateSecret('app', 'db', 'k', 'v', { uid: created.uid, annotations: {} });
    await decorated.listManagedSecrets('app');
    const workloads = await decorated.listWorkloads('app', 'Deployment');
    await decorated.patchTemplateAnnotations('app', 'Deployment', 'web', {}).catch(() => undefined);
    const status = await decorated.readWorkloadStatus('app', 'Deployment', 'web');
    await decorated.recordEvent({
      namespace: 'app',
      name: 'db.1',
      regarding: { kind: 'Secret', namespace: 'app', name: 'db' },
      type: 'Normal',
      reason: 'Synced',
      action: 'Sync',
      note: 'n',
      reportingInstance: 'test',
      time: new Date(0),
    });
    await decorated.deleteSecret('app', 'db');

    // Assess
    expect(decorated.cluster).toBe('c1');
    expect(read).toEqual(created);
    expect(metadata).toEqual({
      namespace: 'app',
      name: 'db',
      labels: {},
      annotations: {},
      uid: created.uid,
      resourceVersion: created.resourceVersion,
    });
    expect(workloads).toEqual([]);
    expect(status).toBeUndefined();
    expect(seen.map((c) => c.call).sort()).toEqual([...KUBE_CALLS].sort());
    expect(seen.every((c) => c.cluster === 'c1' && callNamespace(c) === 'app')).toBe(true);
    expect(seen[1]?.args).toEqual(['app', 'db']);
  });

  it('passes the error of the wrapped call through', async () => {
    // Prepare
    const api = new FakeKubeApi('c1', { namespaces: [] });
    const decorated = decorate(api, (_context, next) => next());

    // Act + Assess
    await expect(decorated.createSecret(write('gone'))).rejects.toMatchObject({ code: 'NamespaceNotFound' });
  });
});
