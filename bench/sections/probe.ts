/**
 * Where a request's time goes: the same Secret GET over the product's pooled KubeConfig and over a plain client-node
 * KubeConfig (a new agent, so a new TCP + TLS connection, per request), sequentially and 50 at once.
 */
import { loadKubeConfig } from '../../lib/clusters/kubeconfig.js';
import { createKubeApi } from '../../lib/kube/api.js';
import { perRequestAgents } from '../counting.js';
import { ROTATION_NAMESPACES, rotationK8sSecret } from '../fixtures.js';
import type { Column, Section } from '../section.js';
import type { StackEnv } from '../stack.js';
import { type Timing, timing } from '../stats.js';

export interface ProbeRow {
  mode: 'pooled (lib/clusters, as shipped)' | 'plain client-node 2.0 (agent per request)';
  sequentialGet: Timing;
  burst50Ms: number;
  newConnections: number;
}

export const columns: Array<Column<ProbeRow>> = [
  { header: 'mode', cell: (x) => x.mode },
  { header: 'GET p50', cell: (x) => x.sequentialGet.p50 },
  { header: 'GET p95', cell: (x) => x.sequentialGet.p95 },
  { header: '50 at once p50', cell: (x) => x.burst50Ms },
  { header: 'new conns', cell: (x) => x.newConnections },
];

export const probe: Section<ProbeRow[]> = {
  key: 'probe',
  title: () => 'where a Kubernetes request spends its time: pooled connection vs one per request',
  async run({ stack, http }) {
    const cluster = stack.clusters[0] as StackEnv['clusters'][number];
    const ref = { path: stack.syncKubeconfig, context: cluster.context };
    const modes = [
      { mode: 'pooled (lib/clusters, as shipped)', api: createKubeApi(cluster.name, loadKubeConfig(ref)) },
      {
        mode: 'plain client-node 2.0 (agent per request)',
        api: createKubeApi(cluster.name, perRequestAgents(loadKubeConfig(ref))),
      },
    ] as const;
    const namespace = ROTATION_NAMESPACES[0] as string;
    const name = rotationK8sSecret({ clusters: 1, namespaces: 1 });
    // Interleaved, request by request and burst by burst, so that machine noise hits both modes alike.
    const samples = modes.map(() => [] as number[]);
    const bursts = modes.map(() => [] as number[]);
    const connections = modes.map(() => 0);
    for (const { api } of modes) await api.getSecret(namespace, name);
    for (let i = 0; i < 40; i++) {
      for (const [m, { api }] of modes.entries()) {
        http.start();
        const start = performance.now();
        await api.getSecret(namespace, name);
        samples[m]?.push(performance.now() - start);
        http.stop();
        connections[m] = (connections[m] ?? 0) + http.connections;
      }
    }
    for (let i = 0; i < 5; i++) {
      for (const [m, { api }] of modes.entries()) {
        http.start();
        const start = performance.now();
        await Promise.all(Array.from({ length: 50 }, () => api.getSecret(namespace, name)));
        bursts[m]?.push(performance.now() - start);
        http.stop();
        connections[m] = (connections[m] ?? 0) + http.connections;
      }
    }
    const rows: ProbeRow[] = modes.map(({ mode }, m) => ({
      mode,
      sequentialGet: timing(samples[m] ?? []),
      burst50Ms: timing(bursts[m] ?? []).p50,
      newConnections: connections[m] ?? 0,
    }));
    for (const row of rows) {
      console.log(
        `  ${row.mode}: GET p50 ${row.sequentialGet.p50} ms, 50 at once p50 ${row.burst50Ms} ms, ${row.newConnections} new connections`,
      );
    }
    return rows;
  },
  tables: (rows) => [
    { title: 'One Secret GET on stack-1 (40 sequential + 5 bursts of 50, interleaved), ms', columns, rows },
  ],
};
