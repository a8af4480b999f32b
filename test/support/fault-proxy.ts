/**
 * Fault injection for the reliability suite, on loopback only:
 * - `startFaultProxy`: an HTTP proxy in front of the AWS emulator that counts Secrets Manager calls by action and
 *   can answer the next N calls of an action with a 5xx, a ThrottlingException or a reset connection.
 * - `startTcpForwarder`: a TCP forwarder in front of an API server (TLS passes through unchanged) that can be
 *   closed and reopened on the same port, cutting every open connection, and can add latency.
 * - `startKubeFaultProxy`: an HTTPS proxy in front of an API server (TLS terminated with the stack's serving
 *   certificate, so clients still verify against the stack CA) that can answer with 429/503 and `Retry-After`, or
 *   accept requests and never answer (a black hole).
 * - `startSilentServer`: a TLS listener that completes the handshake and never answers (an API server that hangs),
 *   switchable to forwarding new connections to a real API server.
 */
import { once } from 'node:events';
import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingMessage,
  type RequestOptions,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { connect, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';

/** `blackhole`: read the request and never answer. */
export type FaultKind = '500' | '503' | 'throttle' | 'reset' | 'blackhole';

interface Fault {
  action: string | undefined;
  kind: FaultKind;
  remaining: number;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_SECRETS_MANAGER`. */
  readonly url: string;
  /** Requests seen for `action` (e.g. `GetSecretValue`), or all of them; injected failures included. */
  calls(action?: string): number;
  /** Failures answered so far, per action. */
  failures(action?: string): number;
  /** The next `times` calls of `action` (any action when omitted) fail with `kind`. */
  inject(fault: { kind: FaultKind; times: number; action?: string }): void;
  /** Drops pending faults and zeroes the counters. */
  reset(): void;
  close(): Promise<void>;
}

const ERROR_BODIES: Record<Exclude<FaultKind, 'reset' | 'blackhole'>, { status: number; type: string }> = {
  '500': { status: 500, type: 'InternalServiceError' },
  '503': { status: 503, type: 'ServiceUnavailable' },
  throttle: { status: 400, type: 'ThrottlingException' },
};

/** The Secrets Manager action of a JSON-protocol request: `X-Amz-Target: secretsmanager.GetSecretValue`. */
function actionOf(req: IncomingMessage): string {
  const target = req.headers['x-amz-target'];
  const value = Array.isArray(target) ? target[0] : target;
  return value?.split('.').pop() ?? 'unknown';
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function sum(map: Map<string, number>, key?: string): number {
  return key === undefined ? [...map.values()].reduce((a, b) => a + b, 0) : (map.get(key) ?? 0);
}

/** Listens on a free loopback port (or `port`) and returns it; `what` names the server in the error. */
export async function listenOnLoopback(server: Server, what: string, port = 0): Promise<number> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error(`${what} has no TCP address`);
  return address.port;
}

/** The request options that send `req` on to `upstream` as it came: same method, path and headers but `host`. */
export function upstreamRequest(req: IncomingMessage, upstream: URL): RequestOptions {
  return {
    host: upstream.hostname,
    port: upstream.port,
    method: req.method,
    path: req.url,
    headers: { ...req.headers, host: upstream.host },
  };
}

/** Relays `req` to `upstream` (HTTP, or HTTPS when `send` is https' request) and its answer back, unchanged. */
function relay(
  req: IncomingMessage,
  res: ServerResponse,
  send: typeof httpRequest,
  upstream: URL,
  options: Pick<RequestOptions, 'agent'> & { ca?: Buffer } = {},
): void {
  const forward = send({ ...options, ...upstreamRequest(req, upstream) }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  forward.on('error', () => res.destroy());
  req.pipe(forward);
}

/** Starts the proxy in front of `target` (the emulator's base URL). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const seen = new Map<string, number>();
  const failed = new Map<string, number>();
  let faults: Fault[] = [];

  const server = createHttpServer((req, res) => {
    const action = actionOf(req);
    bump(seen, action);
    const fault = faults.find((f) => f.remaining > 0 && (f.action === undefined || f.action === action));
    if (fault !== undefined) {
      fault.remaining -= 1;
      bump(failed, action);
      // Drain the body first so that the client sees the answer, not a write error.
      req.resume();
      req.on('end', () => {
        if (fault.kind === 'blackhole') return;
        if (fault.kind === 'reset') {
          req.socket.destroy();
          return;
        }
        const { status, type } = ERROR_BODIES[fault.kind];
        const body = JSON.stringify({ __type: type, message: `injected ${type}` });
        res.writeHead(status, {
          'content-type': 'application/x-amz-json-1.1',
          'x-amzn-errortype': type,
          'x-amzn-requestid': crypto.randomUUID(),
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      });
      return;
    }
    relay(req, res, httpRequest, upstream);
  });
  const port = await listenOnLoopback(server, 'fault proxy');

  return {
    url: `http://127.0.0.1:${port}`,
    calls: (action) => sum(seen, action),
    failures: (action) => sum(failed, action),
    inject: ({ kind, times, action }) => {
      faults.push({ kind, remaining: times, action });
    },
    reset: () => {
      faults = [];
      seen.clear();
      failed.clear();
    },
    close: () => closeServer(server),
  };
}

export interface TcpForwarder {
  readonly port: number;
  /** Connections accepted since start. */
  readonly accepted: number;
  /** Delay added to every chunk in both directions (order kept). */
  latencyMs: number;
  /** Whether the forwarder accepts connections. */
  readonly isOpen: boolean;
  /** Stops listening and destroys every open connection: to the client, the API server is gone. */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/** A TCP forwarder from a free loopback port to `127.0.0.1:targetPort`. */
export async function startTcpForwarder(targetPort: number): Promise<TcpForwarder> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let server: Server | undefined;
  let port = 0;

  const state = {
    latencyMs: 0,
  };

  /** Copies `from` to `to` with the current latency, keeping chunk order. */
  function pump(from: Socket, to: Socket): void {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      const delay = state.latencyMs;
      chain = chain.then(async () => {
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        if (!to.destroyed) to.write(chunk);
      });
    });
    from.on('end', () => {
      chain = chain.then(() => {
        if (!to.destroyed) to.end();
      });
    });
  }

  async function listen(): Promise<void> {
    const next = createTcpServer((client) => {
      accepted += 1;
      const backend = connect(targetPort, '127.0.0.1');
      sockets.add(client);
      sockets.add(backend);
      const drop = () => {
        client.destroy();
        backend.destroy();
        sockets.delete(client);
        sockets.delete(backend);
      };
      client.on('error', drop);
      backend.on('error', drop);
      client.on('close', drop);
      backend.on('close', drop);
      pump(client, backend);
      pump(backend, client);
    });
    port = await listenOnLoopback(next, 'forwarder', port);
    server = next;
  }

  async function cut(): Promise<void> {
    const current = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (current !== undefined) await new Promise<void>((resolve) => current.close(() => resolve()));
  }

  await listen();
  return {
    get port() {
      return port;
    },
    get accepted() {
      return accepted;
    },
    get latencyMs() {
      return state.latencyMs;
    },
    set latencyMs(value: number) {
      state.latencyMs = value;
    },
    get isOpen() {
      return server !== undefined;
    },
    cut,
    reopen: async () => {
      if (server === undefined) await listen();
    },
    close: cut,
  };
}

export type KubeFaultKind = 'blackhole' | '429' | '503';

export interface KubeFault {
  kind: KubeFaultKind;
  /** How many matching requests get the fault. */
  times: number;
  /** `Retry-After` in seconds, for 429/503. */
  retryAfterSeconds?: number;
  /** Only requests with this method (e.g. `GET`) and whose path contains `path`. */
  method?: string;
  path?: string;
}

export interface KubeFaultProxy {
  /** `https://127.0.0.1:<port>`, for a kubeconfig's `server`. */
  readonly url: string;
  /** Requests seen, as `METHOD path` (query dropped), faults included. */
  readonly requests: string[];
  /** Faults answered (or swallowed) so far. */
  readonly faulted: number;
  inject(fault: KubeFault): void;
  /** Drops pending faults and forgets the requests seen; black-holed requests stay open. */
  reset(): void;
  close(): Promise<void>;
}

/**
 * Starts an HTTPS proxy in front of the API server at `target` (its `https://` URL). `tls` is the serving key and
 * certificate the proxy presents and the CA it verifies the API server with.
 */
export async function startKubeFaultProxy(
  target: string,
  tls: { key: Buffer; cert: Buffer; ca: Buffer },
): Promise<KubeFaultProxy> {
  const upstream = new URL(target);
  const requests: string[] = [];
  let faults: KubeFault[] = [];
  let faulted = 0;

  const server = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    requests.push(`${req.method} ${path}`);
    const fault = faults.find(
      (f) =>
        f.times > 0 &&
        (f.method === undefined || f.method === req.method) &&
        (f.path === undefined || path.includes(f.path)),
    );
    if (fault !== undefined) {
      fault.times -= 1;
      faulted += 1;
      // Read the request, then answer nothing (black hole) or a Kubernetes Status.
      req.resume();
      if (fault.kind === 'blackhole') return;
      const status = fault.kind === '429' ? 429 : 503;
      const reason = status === 429 ? 'TooManyRequests' : 'ServiceUnavailable';
      const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: status, reason });
      req.on('end', () => {
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) }),
        });
        res.end(body);
      });
      return;
    }
    relay(req, res, httpsRequest, upstream, { ca: tls.ca });
  });
  const port = await listenOnLoopback(server, 'kube fault proxy');

  return {
    url: `https://127.0.0.1:${port}`,
    requests,
    get faulted() {
      return faulted;
    },
    inject: (fault) => {
      faults.push({ ...fault });
    },
    reset: () => {
      faults = [];
      faulted = 0;
      requests.length = 0;
    },
    close: () => closeServer(server),
  };
}

export interface SilentServer {
  readonly port: number;
  /** Connections accepted since start. */
  readonly accepted: number;
  /**
   * `silent`: each new connection completes the TLS handshake (with the given certificate) and is then never
   * answered, as an API server that hangs. `forward`: new connections are passed to the target port unchanged.
   */
  mode: 'silent' | 'forward';
  /** Destroys every open connection, held or forwarded (a restart of the server, as clients see it). */
  drop(): void;
  close(): Promise<void>;
}

/** A loopback TLS listener that accepts and never answers, switchable to a plain TCP forwarder to `forwardTo`. */
export async function startSilentServer(options: {
  key: string | Buffer;
  cert: string | Buffer;
  forwardTo?: number;
}): Promise<SilentServer> {
  const context = createSecureContext({ key: options.key, cert: options.cert });
  const sockets = new Set<Socket>();
  let accepted = 0;
  const state: { mode: 'silent' | 'forward' } = { mode: 'silent' };
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  };
  const server = createTcpServer((client) => {
    accepted += 1;
    track(client);
    if (state.mode === 'forward' && options.forwardTo !== undefined) {
      const backend = connect(options.forwardTo, '127.0.0.1');
      track(backend);
      client.on('close', () => backend.destroy());
      backend.on('close', () => client.destroy());
      client.pipe(backend);
      backend.pipe(client);
      return;
    }
    // Handshake, then read and discard every request: nothing is ever written back.
    const tls = new TLSSocket(client, { isServer: true, secureContext: context });
    tls.on('error', () => client.destroy());
    tls.resume();
  });
  const port = await listenOnLoopback(server, 'silent server');
  const drop = () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  return {
    port,
    get accepted() {
      return accepted;
    },
    get mode() {
      return state.mode;
    },
    set mode(mode: 'silent' | 'forward') {
      state.mode = mode;
    },
    drop,
    close: async () => {
      drop();
      await closeServer(server);
    },
  };
}

/**
 * Stops `server` listening and resolves once it has closed. An HTTP(S) server's open connections are ended first:
 * a keep-alive socket would otherwise hold the close open until it idles out.
 */
async function closeServer(server: Server & { closeAllConnections?: () => void }): Promise<void> {
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
