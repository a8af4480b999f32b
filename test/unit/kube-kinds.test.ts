import type { V1DaemonSet, V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { toWorkload, toWorkloadStatus } from '../../lib/kube/kinds.js';

describe('toWorkloadStatus', () => {
  it('maps a Deployment: spec replicas, counters, and the ProgressDeadlineExceeded condition', () => {
    // Prepare
    const deployment: V1Deployment = {
      metadata: { name: 'web', generation: 3, uid: 'uid-deployment' },
      spec: { replicas: 4, paused: false, selector: {}, template: {} },
      status: {
        observedGeneration: 3,
        replicas: 5,
        updatedReplicas: 2,
        readyReplicas: 4,
        availableReplicas: 3,
        conditions: [
          { type: 'Available', status: 'True' },
          { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' },
        ],
      },
    };

    // Act + Assess
    expect(toWorkloadStatus('Deployment', deployment)).toEqual({
      kind: 'Deployment',
      uid: 'uid-deployment',
      generation: 3,
      observedGeneration: 3,
      specReplicas: 4,
      paused: false,
      replicas: 5,
      updatedReplicas: 2,
      readyReplicas: 4,
      availableReplicas: 3,
      progressDeadlineExceeded: true,
    });
  });

  it('reads absent counters as 0, an absent spec.replicas as 1, and a Progressing=True condition as no failure', () => {
    // Prepare
    const deployment: V1Deployment = {
      metadata: { name: 'web', generation: 1 },
      spec: { selector: {}, template: {} },
      status: { conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }] },
    };

    // Act + Assess
    expect(toWorkloadStatus('Deployment', deployment)).toMatchObject({
      observedGeneration: 0,
      specReplicas: 1,
      replicas: 0,
      updatedReplicas: 0,
      availableReplicas: 0,
      progressDeadlineExceeded: false,
    });
  });

  it('maps a StatefulSet: revisions, partition and the OnDelete strategy', () => {
    // Prepare
    const statefulSet: V1StatefulSet = {
      metadata: { name: 'db', generation: 2, uid: 'uid-statefulset' },
      spec: {
        replicas: 3,
        serviceName: 'db',
        selector: {},
        template: {},
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 1 } },
      },
      status: {
        observedGeneration: 2,
        replicas: 3,
        updatedReplicas: 1,
        readyReplicas: 3,
        currentRevision: 'db-1',
        updateRevision: 'db-2',
      },
    };
    const onDelete: V1StatefulSet = {
      ...statefulSet,
      spec: { ...statefulSet.spec, updateStrategy: { type: 'OnDelete' } } as V1StatefulSet['spec'],
    };

    // Act + Assess
    expect(toWorkloadStatus('StatefulSet', statefulSet)).toEqual({
      kind: 'StatefulSet',
      uid: 'uid-statefulset',
      generation: 2,
      observedGeneration: 2,
      specReplicas: 3,
      onDelete: false,
      partition: 1,
      replicas: 3,
      updatedReplicas: 1,
      readyReplicas: 3,
      currentRevision: 'db-1',
      updateRevision: 'db-2',
    });
    expect(toWorkloadStatus('StatefulSet', onDelete)).toMatchObject({ onDelete: true, partition: 0 });
  });

  it('maps a DaemonSet: desired, updated, ready and available pods', () => {
    // Prepare
    const daemonSet: V1DaemonSet = {
      metadata: { name: 'agent', generation: 5, uid: 'uid-daemonset' },
      spec: { selector: {}, template: {}, updateStrategy: { type: 'RollingUpdate' } },
      status: {
        observedGeneration: 4,
        currentNumberScheduled: 3,
        desiredNumberScheduled: 3,
        numberMisscheduled: 0,
        updatedNumberScheduled: 1,
        numberReady: 2,
        numberAvailable: 2,
      },
    };

    // Act + Assess
    expect(toWorkloadStatus('DaemonSet', daemonSet)).toEqual({
      kind: 'DaemonSet',
      uid: 'uid-daemonset',
      generation: 5,
      observedGeneration: 4,
      onDelete: false,
      desiredNumberScheduled: 3,
      updatedNumberScheduled: 1,
      numberReady: 2,
      numberAvailable: 2,
    });
  });
});

describe('toWorkload replicas', () => {
  it('takes spec.replicas (default 1) and a DaemonSet its desiredNumberScheduled', () => {
    // Act + Assess
    expect(
      toWorkload('Deployment', 'app', { metadata: { name: 'a' }, spec: { replicas: 0, selector: {}, template: {} } })
        .replicas,
    ).toBe(0);
    expect(
      toWorkload('StatefulSet', 'app', {
        metadata: { name: 'b' },
        spec: { serviceName: 'b', selector: {}, template: {} },
      }).replicas,
    ).toBe(1);
    expect(
      toWorkload('DaemonSet', 'app', {
        metadata: { name: 'c' },
        spec: { selector: {}, template: {} },
        status: { currentNumberScheduled: 0, desiredNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0 },
      }).replicas,
    ).toBe(0);
  });
});
