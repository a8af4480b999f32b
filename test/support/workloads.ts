/** Workload manifests for integration tests: each consumes a Secret one way, or not at all. */
import type { V1CronJob, V1DaemonSet, V1Deployment, V1PodSpec, V1StatefulSet } from '@kubernetes/client-node';

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

/** Argo Rollouts' API, as CustomObjectsApi calls take it. */
export const ROLLOUTS = { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts' };

/** An Argo Rollout (canary) whose pod template reads Secret `secret` through envFrom. */
export function rollout(name: string, secret: string) {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [{ name: 'app', image: 'registry.invalid/app:1', envFrom: [{ secretRef: { name: secret } }] }],
        },
      },
      strategy: { canary: { steps: [{ setWeight: 20 }, { pause: {} }] } },
    },
  };
}

/** A CronJob whose job template reads Secret `secret` through envFrom. */
export function cronJob(name: string, secret: string): V1CronJob {
  return {
    metadata: { name },
    spec: {
      schedule: '0 3 * * *',
      jobTemplate: {
        spec: {
          template: {
            spec: {
              restartPolicy: 'Never',
              containers: [
                { name: 'job', image: 'registry.invalid/job:1', envFrom: [{ secretRef: { name: secret } }] },
              ],
            },
          },
        },
      },
    },
  };
}
