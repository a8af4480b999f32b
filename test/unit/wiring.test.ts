import { describe, expect, it } from 'vitest';
import type { EksAccess } from '../../lib/clusters/eks.js';
import { parseConfig } from '../../lib/config/index.js';
import { createAdapters, createEngine, type Ports } from '../../lib/wiring/index.js';
import { FakeConnector, FakeKubeApi, FakeSecretSource } from '../support/fakes.js';
import { eksClusters } from '../support/fixtures.js';

const CONFIG = `${eksClusters('eu')}syncs:
  - source: { secret: prod/db }
    targets:
      - { clusters: [eu], namespaces: [payments], secret: db }
`;

describe('the composition root', () => {
  it('runs the engine over the ports the entry point decorated, logging to its sink', async () => {
    // Prepare
    const source = new FakeSecretSource();
    source.put('prod/db', { password: 'pw' });
    const eu = new FakeKubeApi('eu', { namespaces: ['payments'] });
    const seen: string[] = [];
    const lines: string[] = [];
    const engine = createEngine({
      config: parseConfig(CONFIG),
      ports: { source, clusters: new FakeConnector([eu]) },
      decorate: (ports: Ports): Ports => ({
        source: ports.source,
        clusters: {
          connect: (name) => {
            seen.push(name);
            return ports.clusters.connect(name);
          },
        },
      }),
      log: { info: (message) => lines.push(message), warn: (message) => lines.push(message) },
      reportingInstance: 'it-wiring',
    });

    // Act
    const report = await engine.run({ trigger: 'rotation', secrets: ['prod/db'], dryRun: false, restart: true });

    // Assert
    expect(report.results.map((r) => r.action)).toEqual(['created']);
    expect(seen).toEqual(['eu']);
    expect(lines).toContain('planned');
  });

  it('builds the source over the client the entry point saw, and the connector over its EKS decorator', async () => {
    // Prepare
    const commands: string[] = [];
    let decorated = 0;
    const adapters = createAdapters(parseConfig(CONFIG), {
      onClient: (client) =>
        client.middlewareStack.add(
          (_next, context) => async () => {
            commands.push(context.commandName ?? 'unknown');
            throw new Error('stopped before the network');
          },
          { step: 'initialize', name: 'wiringTestStop' },
        ),
      decorateEks: (eks: EksAccess): EksAccess => {
        decorated += 1;
        return eks;
      },
    });

    // Act
    const read = adapters.source.describe('prod/db');

    // Assert
    await expect(read).rejects.toThrow();
    expect(commands).toEqual(['DescribeSecretCommand']);
    expect(decorated).toBe(1);
  });
});
