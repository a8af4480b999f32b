/** The deletion policy, for bindings whose source secret is gone. */
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, SOURCE_ANNOTATION } from '../../domain/names.js';
import type { SyncRequest } from '../../domain/request.js';
import { isSecretArn, nameFromArn, refersTo } from '../../domain/secret-id.js';
import type { Binding } from '../plan.js';
import type { KubeApi } from '../ports/kube.js';
import type { BindingResult } from '../types.js';
import { baseResult, errorOf } from './report.js';

/** The source secret was deleted: keep the Kubernetes Secrets (report them) or delete the ones we manage. */
export async function deleteNamespace(
  api: KubeApi,
  bindings: Binding[],
  request: SyncRequest,
): Promise<BindingResult[]> {
  return Promise.all(
    bindings.map(async (binding): Promise<BindingResult> => {
      const result = baseResult(binding);
      if (request.dryRun) result.dryRun = true;
      try {
        const existing = await api.getSecret(binding.namespace, binding.secret);
        if (existing === undefined) return { ...result, action: 'skipped', notes: ['source deleted; no Secret here'] };
        if (binding.deletionPolicy === 'retain') {
          return {
            ...result,
            action: 'retained',
            notes: ['source secret deleted; Secret kept (deletionPolicy retain)'],
          };
        }
        if (existing.labels[MANAGED_BY_LABEL] !== MANAGED_BY_VALUE) {
          return {
            ...result,
            action: 'skipped',
            notes: ['source deleted; Secret not managed by eks-secret-sync, kept'],
          };
        }
        const other = recordedOther(existing.annotations[SOURCE_ANNOTATION], binding.fetchId);
        if (other !== undefined) {
          return { ...result, action: 'skipped', notes: [`source deleted; Secret mirrors secret "${other}", kept`] };
        }
        if (!request.dryRun) {
          await api.deleteSecret(binding.namespace, binding.secret, {
            uid: existing.uid,
            resourceVersion: existing.resourceVersion,
          });
        }
        return { ...result, action: 'deleted' };
      } catch (error) {
        return { ...result, action: 'failed', error: errorOf(error) };
      }
    }),
  );
}

/**
 * The secret a Secret's source annotation records, when it is not `id`. We record the full ARN Secrets Manager
 * returned, so its name is the ARN without the last 7 characters (exact for a full ARN); older versions recorded
 * the name.
 */
function recordedOther(recorded: string | undefined, id: string): string | undefined {
  if (recorded === undefined || recorded === '') return undefined;
  const same = isSecretArn(recorded)
    ? refersTo(id, { arn: recorded, name: nameFromArn(recorded) ?? recorded })
    : recorded === id || (isSecretArn(id) && nameFromArn(id) === recorded);
  return same ? undefined : recorded;
}
