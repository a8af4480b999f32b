/** A KubeApi whose calls to one cluster are bounded: at most `limit` in flight, whatever runs them. */
import { createLimiter } from '../concurrency.js';
import type { KubeApi } from '../ports/kube.js';
import { decorate } from './decorate.js';

export function limitCalls(api: KubeApi, limit: number): KubeApi {
  const run = createLimiter(limit);
  return decorate(api, (_call, next) => run(next));
}
