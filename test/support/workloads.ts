/** Workload manifests for integration tests: each consumes a Secret one way, or not at all. */
import type { V1DaemonSet, V1Deployment, V1PodSpec, V1StatefulSet } from '@kubernetes/client-node';

export type Consumption = 'env' | 'envFrom' | 'volume' | 'projected' | 'none';

function podSpec(secret: string, how: Consumption): V1PodSpec {
  const container: V1PodSpec['containers'][number] = { name: 'app', image: 'registry.invalid/app:1' };
  const spec: V1PodSpec = { containers: [container] };
  if (how === 'env')
    container.env = [{ name: 'PASSWORD', valueFrom: { secretKeyRef: { name: secret, key: 'password' } } }];
  if (how === 'envFrom') container.envFrom = [{ secretRef: { name: secret } }];
  if (how === 'volume') spec.volumes = [{ name: 's', secret: { secretName: secret } }];
  if (how === 'projected') spec.volumes = [{ name: 's', projected: { sources: [{ secret: { name: secret } }] } }];
  return spec;
}

function template(name: string, secret: string, how: Consumption) {
  return { metadata: { labels: { app: name } }, spec: podSpec(secret, how) };
}

export function deployment(name: string, secret: string, how: Consumption): V1Deployment {
  return {
    metadata: { name },
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: template(name, secret, how) },
  };
}

export function statefulSet(name: string, secret: string, how: Consumption): V1StatefulSet {
  return {
    metadata: { name },
    spec: {
      replicas: 1,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: template(name, secret, how),
    },
  };
}

export function daemonSet(name: string, secret: string, how: Consumption): V1DaemonSet {
  return {
    metadata: { name },
    spec: { selector: { matchLabels: { app: name } }, template: template(name, secret, how) },
  };
}
