/**
 * A fleet of in-memory clusters for the `scale` section: the real engine over test/support/fakes clusters, each with
 * its own round trip drawn (seeded, so every run is the same fleet) from 20 to 80 ms, as cross-region EKS endpoints
 * have, and DescribeCluster behind one account-wide token bucket, as the EKS API throttles it. Counts what a pass
 * costs: calls per port, DescribeCluster, calls in flight (the sockets a real pass would hold) and memory.
 */
import { parseConfig } from '../lib/config/index.js';
import { decorate } from '../lib/sync/calls/decorate.js';
import type { ClusterConnector, KubeApi } from '../lib/sync/ports/kube.js';
import { envFromSpec, FakeConnector, FakeKubeApi, FakeSecretSource } from '../test/support/fakes.js';

export const FLEET_SECRET = 'fleet/app-db';

/** mulberry32: a small seeded generator, so that a fleet's round trips are the same in every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A token bucket (`burst` tokens, refilled at `ratePerSecond`): `take` waits for a token, as a client whose
 * throttled calls are retried with backoff ends up waiting. One per account and region, shared by every caller.
 */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  private queue: Promise<void> = Promise.resolve();
  /** Calls that found the bucket empty (each would have been a ThrottlingException and a retry). */
  throttled = 0;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(): Promise<void> {
    const turn = this.queue.then(async () => {
      this.refill();
      if (this.tokens < 1) {
        this.throttled += 1;
        await sleep(((1 - this.tokens) / this.ratePerSecond) * 1000);
        this.refill();
      }
      this.tokens -= 1;
    });
    this.queue = turn;
    return turn;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
  }
}

/** What a fleet counted since its last `reset`. */
export interface FleetCounts {
  kubeCalls: number;
  describeCluster: number;
  describeThrottled: number;
  /** Secrets Manager calls, by port method. */
  secretsManager: Record<string, number>;
  /** Most Kubernetes calls in flight at once, across clusters (an upper bound of the sockets a pass opens). */
  peakInFlight: number;
  /** Clusters with a client (one connection pool each, kept by the container). */
  connectedClusters: number;
}

export interface FleetOptions {
  clusters: number;
  namespaces: number;
  seed?: number;
  /** The account's DescribeCluster bucket. */
  describe: { ratePerSecond: number; burst: number };
}

/** The fleet: clusters, their round trips, the source, and a connector that a container would build once. */
export class Fleet {
  readonly clusters: string[];
  readonly namespaces: string[];
  readonly rtt = new Map<string, number>();
  readonly source = new FakeSecretSource();
  private readonly fakes: FakeConnector;
  private bucket: TokenBucket;
  private kubeCalls = 0;
  private describeCalls = 0;
  private inFlight = 0;
  private peak = 0;

  constructor(private readonly options: FleetOptions) {
    const random = seeded(options.seed ?? 15);
    this.clusters = Array.from({ length: options.clusters }, (_, i) => `f${String(i + 1).padStart(4, '0')}`);
    this.namespaces = Array.from({ length: options.namespaces }, (_, i) => `ns-${i + 1}`);
    const apis = this.clusters.map((cluster) => {
      this.rtt.set(cluster, Math.round(20 + 60 * random()));
      const api = new FakeKubeApi(cluster, { namespaces: this.namespaces });
      for (const namespace of this.namespaces) {
        api.seedWorkload({ namespace, name: 'consumer', podSpec: envFromSpec('app-db'), replicas: 0 });
      }
      return api;
    });
    this.fakes = new FakeConnector(apis);
    this.bucket = new TokenBucket(options.describe.ratePerSecond, options.describe.burst);
  }

  /** The configuration of the fleet: one secret into every cluster and namespace, with `extra` lines under defaults. */
  config(extra: string[] = []) {
    const yaml = [
      'clusters:',
      ...this.clusters.map((c) => `  ${c}: { kubeconfig: { path: /dev/null, context: ${c} } }`),
      ...(extra.length > 0 ? ['defaults:', ...extra.map((l) => `  ${l}`)] : []),
      'syncs:',
      `  - source: { secret: ${FLEET_SECRET} }`,
      '    targets:',
      `      - clusters: [${this.clusters.join(', ')}]`,
      `        namespaces: [${this.namespaces.join(', ')}]`,
      '        secret: app-db',
      '        restart: auto',
    ].join('\n');
    return parseConfig(yaml, 'bench fleet');
  }

  /**
   * A connector as one container builds it: the first connect of a cluster pays DescribeCluster (a token from the
   * account's bucket and one round trip), later ones reuse the client; every Kubernetes call costs its round trip.
   */
  connector(options: { free?: boolean } = {}): ClusterConnector {
    const connected = new Map<string, Promise<KubeApi>>();
    return {
      connect: (cluster) => {
        // `free`: no round trip, no bucket and not counted, to bring the fleet to a state before the timed pass.
        if (options.free === true) return this.fakes.connect(cluster);
        let api = connected.get(cluster);
        if (api === undefined) {
          api = this.dial(cluster);
          connected.set(cluster, api);
          this.connected += 1;
        }
        return api;
      },
    };
  }

  private connected = 0;

  private async dial(cluster: string): Promise<KubeApi> {
    const rtt = this.rtt.get(cluster) ?? 50;
    await this.bucket.take();
    this.describeCalls += 1;
    await sleep(rtt);
    const inner = await this.fakes.connect(cluster);
    return decorate(inner, async (_context, next) => {
      this.kubeCalls += 1;
      this.inFlight += 1;
      this.peak = Math.max(this.peak, this.inFlight);
      try {
        await sleep(rtt);
        return await next();
      } finally {
        this.inFlight -= 1;
      }
    });
  }

  /** Rotates the secret (a new AWSCURRENT version); returns its ARN and version id. */
  rotate(): { arn: string; versionId: string } {
    const versionId = this.source.put(FLEET_SECRET, { password: crypto.randomUUID() });
    return { arn: this.source.arnOf(FLEET_SECRET), versionId };
  }

  reset(): void {
    this.kubeCalls = 0;
    this.describeCalls = 0;
    this.peak = 0;
    this.connected = 0;
    this.bucket = new TokenBucket(this.options.describe.ratePerSecond, this.options.describe.burst);
    this.source.book.reset();
    for (const cluster of this.clusters) this.fakes.api(cluster).book.reset();
  }

  counts(): FleetCounts {
    return {
      kubeCalls: this.kubeCalls,
      describeCluster: this.describeCalls,
      describeThrottled: this.bucket.throttled,
      secretsManager: Object.fromEntries(this.source.book.calls),
      peakInFlight: this.peak,
      connectedClusters: this.connected,
    };
  }

  /** The fake cluster, for checks after a pass. */
  api(cluster: string): FakeKubeApi {
    return this.fakes.api(cluster);
  }
}

/** Peak RSS and heap used while `fn` runs, sampled every 25 ms, in MiB. */
export async function withMemory<T>(fn: () => Promise<T>): Promise<{ value: T; rssMiB: number; heapMiB: number }> {
  let rss = process.memoryUsage().rss;
  let heap = process.memoryUsage().heapUsed;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  };
  const timer = setInterval(sample, 25);
  try {
    const value = await fn();
    sample();
    return { value, rssMiB: rss / 2 ** 20, heapMiB: heap / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}
