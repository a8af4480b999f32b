import { describe, expect, it } from 'vitest';
import { envFromSpec } from '../support/fakes.js';
import { bindingOf, eksClusters, fakeWorld, NOW, syncRequest } from '../support/fixtures.js';

const ONE = `${eksClusters('eu')}syncs:
  - source: { secret: prod/db }
    targets: [{ clusters: [eu], namespaces: [app], secret: db }]
`;

describe('a pass over Rollouts and CronJobs', () => {
  it('reports a CronJob under nextRun with a TemplateUpdated Event, and a Rollout restarted without waiting for it', async () => {
    // Prepare
    const sleeps: number[] = [];
    const w = fakeWorld(ONE, { eu: ['app'] }, { now: NOW, engine: { sleep: async (ms) => void sleeps.push(ms) } });
    w.source.put('prod/db', { password: 'x' });
    const eu = w.api('eu');
    eu.seedWorkload({ kind: 'CronJob', namespace: 'app', name: 'backup', podSpec: envFromSpec('db') });
    eu.seedWorkload({ kind: 'Rollout', namespace: 'app', name: 'canary', podSpec: envFromSpec('db') });

    // Act
    const report = await w.engine.run(syncRequest({ secrets: ['prod/db'] }));

    // Assess
    const result = bindingOf(report.results, 'eu', 'app');
    expect(result).toMatchObject({
      action: 'created',
      restarted: [{ kind: 'Rollout', name: 'canary', rollout: 'progressing' }],
      nextRun: [{ kind: 'CronJob', name: 'backup' }],
    });
    expect(report.summary).toMatchObject({ restarts: 1, progressing: 1, failed: 0 });
    // The Rollout is not watched: no status read, no pause.
    expect(eu.calls('readWorkloadStatus')).toBe(0);
    expect(sleeps).toEqual([]);
    const reasons = eu.events().map((e) => `${e.regarding.kind}/${e.reason}`);
    expect(reasons.sort()).toEqual(['CronJob/TemplateUpdated', 'Rollout/Restarted', 'Secret/Synced']);
  });

  it('goes on without Rollouts in a cluster that does not serve them', async () => {
    // Prepare
    const infos: string[] = [];
    const log = { info: (message: string) => void infos.push(message), warn: () => undefined };
    const w = fakeWorld(ONE, { eu: ['app'] }, { engine: { log } });
    w.source.put('prod/db', { password: 'x' });
    const eu = w.api('eu');
    eu.servesRollouts = false;
    eu.seedWorkload({ namespace: 'app', name: 'web', podSpec: envFromSpec('db'), replicas: 0 });

    // Act
    const report = await w.engine.run(syncRequest({ secrets: ['prod/db'] }));

    // Assess
    expect(bindingOf(report.results, 'eu', 'app')).toMatchObject({
      action: 'created',
      restarted: [{ kind: 'Deployment', name: 'web' }],
    });
    expect(report.summary.failed).toBe(0);
    expect(infos).toContain('workload kind skipped');
  });
});
