/**
 * `startKubeRequestProxy`, for the crash-point tests of the reliability suite, on loopback only: an HTTPS proxy in
 * front of API servers that numbers every request and can hold one (never forwarded) or swallow its answer
 * (forwarded, never relayed), so that the test can kill the client exactly there.
 */
import {
  createServer as createHttpsServer,
  Agent as HttpsAgent,
  type Server as HttpsServer,
  request as httpsRequest,
} from 'node:https';
import type { Socket } from 'node:net';
import { listenOnLoopback, upstreamRequest } from './fault-proxy.js';

/** One HTTP request seen by the Kubernetes request proxy, numbered in arrival order across all its clusters. */
export interface ProxiedRequest {
  /** 1-based, in the order the request headers arrived. */
  seq: number;
  cluster: string;
  method: string;
  /** Path without the query string. */
  path: string;
}

/**
 * What to do with one request: relay it; never forward nor answer it (`hold`: the client waits until its connection
 * dies); or forward it, read the whole answer from the API server, relay nothing and call `answered`
 * (`forward-then-hold`: the write happened, the client never learns it).
 */
export type RequestDecision =
  | { action: 'forward' }
  | { action: 'hold' }
  | { action: 'forward-then-hold'; answered: () => void };

export interface KubeRequestProxy {
  /** `https://127.0.0.1:<port>` of the listener in front of `cluster`. */
  urlOf(cluster: string): string;
  /** Requests seen since start or the last `reset`, in arrival order. */
  readonly requests: readonly ProxiedRequest[];
  /** Decides each request before anything is forwarded; forwards everything by default. */
  decide: (request: ProxiedRequest) => RequestDecision;
  /** Zeroes the numbering and forgets the requests seen (the decision function stays). */
  reset(): void;
  /** Destroys every client connection (held requests included). */
  dropClients(): void;
  close(): Promise<void>;
}

/**
 * An HTTPS proxy in front of API servers that sees every request, for crash-point tests: it terminates TLS with the
 * given serving certificate (the stack's, valid for 127.0.0.1, so clients keep verifying against the stack CA),
 * numbers requests across all its listeners (keep-alive connections carry many), and forwards them over TLS.
 */
export async function startKubeRequestProxy(opts: {
  /** API server URL per cluster name. */
  targets: Record<string, string>;
  cert: string;
  key: string;
  ca: string;
}): Promise<KubeRequestProxy> {
  const upstreamAgent = new HttpsAgent({ ca: opts.ca, keepAlive: true });
  const servers: HttpsServer[] = [];
  const urls = new Map<string, string>();
  const clients = new Set<Socket>();
  let requests: ProxiedRequest[] = [];

  const proxy: KubeRequestProxy = {
    urlOf(cluster) {
      const url = urls.get(cluster);
      if (url === undefined) throw new Error(`no proxy listener for cluster ${cluster}`);
      return url;
    },
    get requests() {
      return requests;
    },
    decide: () => ({ action: 'forward' }),
    reset() {
      requests = [];
    },
    dropClients() {
      for (const socket of clients) socket.destroy();
      clients.clear();
    },
    async close() {
      proxy.dropClients();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      upstreamAgent.destroy();
    },
  };

  for (const [cluster, target] of Object.entries(opts.targets)) {
    const upstream = new URL(target);
    const server = createHttpsServer({ cert: opts.cert, key: opts.key }, (req, res) => {
      const seen: ProxiedRequest = {
        seq: requests.length + 1,
        cluster,
        method: req.method ?? 'GET',
        path: (req.url ?? '/').split('?')[0] as string,
      };
      requests.push(seen);
      const decision = proxy.decide(seen);
      if (decision.action === 'hold') {
        req.resume();
        return;
      }
      const forward = httpsRequest({ agent: upstreamAgent, ...upstreamRequest(req, upstream) }, (answer) => {
        if (decision.action === 'forward-then-hold') {
          answer.resume();
          answer.on('end', decision.answered);
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.on('error', () => res.destroy());
      res.on('error', () => undefined);
      req.pipe(forward);
    });
    server.on('connection', (socket: Socket) => {
      clients.add(socket);
      socket.on('close', () => clients.delete(socket));
    });
    server.on('tlsClientError', () => undefined);
    const port = await listenOnLoopback(server, 'kube request proxy');
    servers.push(server);
    urls.set(cluster, `https://127.0.0.1:${port}`);
  }
  return proxy;
}
