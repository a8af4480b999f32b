/**
 * A KubeConfig whose requests share one connection pool. client-node 2.0 builds a new undici Agent for every
 * request, so every call paid a fresh TCP + TLS handshake; one KubeConfig here serves one cluster with fixed TLS
 * settings (credentials travel in headers), so its first dispatcher can serve every later request.
 */
import { KubeConfig, type RequestContext } from '@kubernetes/client-node';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

export class PooledKubeConfig extends KubeConfig {
  private pool: Dispatcher | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (fresh === undefined) return;
    if (this.pool === undefined) {
      this.pool = fresh;
      return;
    }
    context.setDispatcher(this.pool);
    // The per-request agent never opened a connection; closing it releases nothing but is tidy.
    void fresh.close().catch(() => undefined);
  }
}
