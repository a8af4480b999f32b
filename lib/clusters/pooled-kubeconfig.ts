/**
 * A KubeConfig whose requests share one connection pool, with our timeouts. client-node 2.0 builds a new undici
 * Agent for every request, so every call paid a fresh TCP + TLS handshake; one KubeConfig here serves one cluster
 * with fixed TLS settings (credentials travel in headers), so its first dispatcher can serve every later request.
 * That Agent would wait undici's defaults (10 s to connect, 300 s for headers, 300 s between body chunks): longer
 * than onRotation lives. So the connect options get our connect timeout and every request our headers and body
 * timeouts.
 */
import type https from 'node:https';
import { type Cluster, type DispatcherOptions, KubeConfig, type RequestContext } from '@kubernetes/client-node';
import { DEFAULT_KUBE_TIMEOUTS, type KubeTimeouts } from '../timeouts.js';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;
type DispatchOptions = Parameters<Dispatcher['dispatch']>[0];

export class PooledKubeConfig extends KubeConfig {
  private pool: Dispatcher | undefined;
  readonly timeouts: Readonly<KubeTimeouts>;

  constructor(timeouts: Readonly<KubeTimeouts> = DEFAULT_KUBE_TIMEOUTS) {
    super();
    this.timeouts = timeouts;
  }

  override createDispatcherOptions(cluster: Cluster | null, agentOptions: https.AgentOptions): DispatcherOptions {
    const options = super.createDispatcherOptions(cluster, agentOptions);
    // undici's connect `timeout` covers TCP connect and the TLS handshake.
    const timeout = this.timeouts.connectMs;
    switch (options.type) {
      case 'agent':
      case 'proxy':
        return { ...options, connect: { ...options.connect, timeout } };
      case 'none':
        // No TLS options (system CAs): the library would fall back to the global dispatcher and its defaults.
        return { type: 'agent', connect: { keepAlive: true, keepAliveInitialDelay: 30_000, timeout } };
      default:
        return options;
    }
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (fresh === undefined) return;
    if (this.pool === undefined) {
      const { headersMs, bodyMs } = this.timeouts;
      // Per-request options win over the Agent's defaults; fetch sets neither, so this applies to every call.
      this.pool = fresh.compose(
        (dispatch) => (options: DispatchOptions, handler) =>
          dispatch({ ...options, headersTimeout: headersMs, bodyTimeout: bodyMs }, handler),
      );
    } else {
      // The per-request agent never opened a connection; closing it releases nothing but is tidy.
      void fresh.close().catch(() => undefined);
    }
    context.setDispatcher(this.pool);
  }
}
