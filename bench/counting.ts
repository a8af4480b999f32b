/**
 * Counting decorators for the benchmark: every call is counted where it crosses a port (SecretSource via an SDK
 * middleware, ClusterConnector/KubeApi, EksAccess), and once more at the HTTP level (undici diagnostics channels)
 * as a cross-check. Counters hold names and numbers only, never a request or response body.
 */
import { subscribe } from 'node:diagnostics_channel';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { KubeConfig } from '@kubernetes/client-node';
import type { EksAccess } from '../lib/clusters/eks.js';
import { callNamespace, decorate, type KubeCall } from '../lib/sync/calls/decorate.js';
import type { ClusterConnector, KubeApi } from '../lib/sync/ports/kube.js';

export type Counts = Record<string, number>;

function bump(counts: Counts, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

/** Secrets Manager commands as sent by the adapter (`initialize`) and HTTP attempts including SDK retries. */
export class SecretsManagerCounter {
  commands: Counts = {};
  attempts = 0;

  attach(client: SecretsManagerClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        bump(this.commands, context.commandName ?? 'unknown');
        return next(args);
      },
      { step: 'initialize', name: 'benchCountCommands' },
    );
    // The deserialize step runs inside the retry loop: one pass per HTTP attempt.
    client.middlewareStack.add(
      (next) => async (args) => {
        this.attempts += 1;
        return next(args);
      },
      { step: 'deserialize', name: 'benchCountAttempts' },
    );
  }

  reset(): void {
    this.commands = {};
    this.attempts = 0;
  }

  /** Reads of secret values (what the "one read per rotation" target is about). */
  get valueReads(): number {
    return (this.commands.GetSecretValueCommand ?? 0) + (this.commands.BatchGetSecretValueCommand ?? 0);
  }

  get total(): number {
    return Object.values(this.commands).reduce((a, b) => a + b, 0);
  }
}

export type KubeMethod = KubeCall;
const READS: KubeMethod[] = ['getSecret', 'getSecretMetadata', 'listManagedSecrets', 'listWorkloads'];
const WRITES: KubeMethod[] = ['createSecret', 'replaceSecret', 'deleteSecret'];
const PATCHES: KubeMethod[] = ['clearSecretAnnotation', 'patchTemplateAnnotations'];

/** Calls on the KubeApi port, per method, plus per-cluster busy spans (first call start -> last call end). */
export class KubeCounter {
  methods: Counts = {};
  /** Per `cluster/namespace method`, to explain a count that is not a multiple of the bindings. */
  detail: Counts = {};
  /** Per method: the latency of each call, ms (where the time goes). */
  latencies: Record<string, number[]> = {};
  spans = new Map<string, { start: number; end: number }>();

  /** @param delayMs added before every call: a simulated network round trip to each cluster. */
  constructor(private readonly delayMs = 0) {}

  reset(): void {
    this.methods = {};
    this.detail = {};
    this.latencies = {};
    this.spans.clear();
  }

  private sum(methods: KubeMethod[]): number {
    return methods.reduce((a, m) => a + (this.methods[m] ?? 0), 0);
  }

  get reads(): number {
    return this.sum(READS);
  }
  get writes(): number {
    return this.sum(WRITES);
  }
  get patches(): number {
    return this.sum(PATCHES);
  }

  /** Wraps one cluster's KubeApi. */
  wrap(api: KubeApi): KubeApi {
    return decorate(api, async (context, next) => {
      const method = context.call;
      bump(this.methods, method);
      bump(this.detail, `${api.cluster}/${callNamespace(context)} ${method}`);
      const start = performance.now();
      try {
        if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
        return await next();
      } finally {
        const end = performance.now();
        this.latencies[method] = [...(this.latencies[method] ?? []), end - start];
        const span = this.spans.get(api.cluster);
        if (span === undefined) this.spans.set(api.cluster, { start, end });
        else {
          span.start = Math.min(span.start, start);
          span.end = Math.max(span.end, end);
        }
      }
    });
  }

  /** Wraps a connector so that every KubeApi it hands out is counted (wrapped once per cluster). */
  wrapConnector(connector: ClusterConnector): ClusterConnector {
    const wrapped = new Map<string, Promise<KubeApi>>();
    return {
      connect: (cluster) => {
        let api = wrapped.get(cluster);
        if (api === undefined) {
          api = connector.connect(cluster).then((inner) => this.wrap(inner));
          wrapped.set(cluster, api);
          api.catch(() => wrapped.delete(cluster));
        }
        return api;
      },
    };
  }

  /** Per-cluster busy time of the last window, in ms. */
  clusterSpans(): Record<string, number> {
    return Object.fromEntries([...this.spans].map(([c, s]) => [c, s.end - s.start]));
  }
}

/** EKS DescribeCluster and token requests (zero with kubeconfig clusters: counted, not assumed). */
export class EksCounter {
  describe = 0;
  token = 0;

  wrap(inner: EksAccess): EksAccess {
    return {
      describe: (ref) => {
        this.describe += 1;
        return inner.describe(ref);
      },
      token: (ref) => {
        this.token += 1;
        return inner.token(ref);
      },
      forget: (ref) => inner.forget(ref),
    };
  }

  reset(): void {
    this.describe = 0;
    this.token = 0;
  }
}

/**
 * HTTP requests and new connections seen by undici (the transport of @kubernetes/client-node), restricted to the
 * given origins (the API servers). Independent of our port, so it cross-checks the KubeApi counts.
 */
export class HttpCounter {
  requests: Counts = {};
  connections = 0;
  private active = false;

  constructor(private readonly origins: Set<string>) {
    subscribe('undici:request:create', (message) => {
      if (!this.active) return;
      const request = (message as { request?: { origin?: unknown; method?: unknown } }).request;
      const origin = String(request?.origin ?? '');
      if (this.origins.has(origin)) bump(this.requests, String(request?.method ?? '?'));
    });
    subscribe('undici:client:connected', (message) => {
      if (!this.active) return;
      const params = (message as { connectParams?: { hostname?: unknown; port?: unknown; protocol?: unknown } })
        .connectParams;
      const origin = `${String(params?.protocol ?? 'https:')}//${String(params?.hostname ?? '')}:${String(params?.port ?? '')}`;
      if (this.origins.has(origin)) this.connections += 1;
    });
  }

  start(): void {
    this.requests = {};
    this.connections = 0;
    this.active = true;
  }

  stop(): void {
    this.active = false;
  }

  get total(): number {
    return Object.values(this.requests).reduce((a, b) => a + b, 0);
  }
}

/**
 * The same cluster as a plain client-node KubeConfig: client-node 2.0 then builds a new undici Agent for every
 * request (a TCP + TLS handshake each). lib/clusters/pooled-kubeconfig.ts fixed that for the product; the probe
 * keeps this variant to show what the fix is worth.
 */
export function perRequestAgents(kc: KubeConfig): KubeConfig {
  const plain = new KubeConfig();
  plain.loadFromOptions({
    clusters: kc.getClusters(),
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  });
  return plain;
}
