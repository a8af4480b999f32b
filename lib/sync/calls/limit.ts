/** A KubeApi whose calls to one cluster are bounded: at most `limit` in flight, whatever runs them. */
import { createLimiter } from '../concurrency.js';
import type { KubeApi } from '../ports/kube.js';

export function limitCalls(api: KubeApi, limit: number): KubeApi {
  const run = createLimiter(limit);
  return {
    cluster: api.cluster,
    getSecret: (namespace, name) => run(() => api.getSecret(namespace, name)),
    createSecret: (secret) => run(() => api.createSecret(secret)),
    replaceSecret: (secret) => run(() => api.replaceSecret(secret)),
    deleteSecret: (namespace, name, preconditions) => run(() => api.deleteSecret(namespace, name, preconditions)),
    clearSecretAnnotation: (namespace, name, key, expected) =>
      run(() => api.clearSecretAnnotation(namespace, name, key, expected)),
    listManagedSecrets: (namespace) => run(() => api.listManagedSecrets(namespace)),
    listWorkloads: (namespace, kind) => run(() => api.listWorkloads(namespace, kind)),
    patchTemplateAnnotations: (namespace, kind, name, annotations, expected) =>
      run(() => api.patchTemplateAnnotations(namespace, kind, name, annotations, expected)),
  };
}
