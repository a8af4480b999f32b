import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { SyncError } from '../../lib/errors.js';
import { type KubeOperation, translateKubeError } from '../../lib/target/client-node-api.js';

const CREATE: KubeOperation = { verb: 'create', resource: 'secrets', namespace: 'payments', name: 'payments-db' };
/** A secret value a server message quotes; it must not reach a translated error. */
const SEEDED = 'Seeded-Value-9f3k';

/** An ApiException as client-node throws it: `body` is the raw JSON text of a V1Status. */
function apiException(code: number, status: Record<string, unknown>): ApiException<string> {
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, ...status });
  return new ApiException(code, 'Unknown API Status Code!', body, { 'content-type': 'application/json' });
}

describe('translateKubeError', () => {
  it('maps 403 to Forbidden naming verb, resource, namespace, cluster and the reason, not the server message', () => {
    // Prepare
    const message =
      'secrets is forbidden: User "eks-secret-sync" cannot create resource "secrets" in API group "" in the namespace "payments"';
    const error = apiException(403, { reason: 'Forbidden', message, details: { kind: 'secrets' } });

    // Act
    const translated = translateKubeError('prod-eu', CREATE, error);

    // Assess
    expect(translated.code).toBe('Forbidden');
    expect(translated.message).toBe(
      'forbidden: cannot create secrets in namespace "payments" of cluster "prod-eu" (HTTP 403 Forbidden; user "eks-secret-sync" is not authorized)',
    );
    expect(translated.retryable).toBe(false);
    expect(translated.cause).toBe(error);
  });

  it('names the admission webhook that denied a request, never the text it templated the request into', () => {
    // Prepare: a webhook that quotes the Secret's data in its denial.
    const error = apiException(403, {
      reason: 'Forbidden',
      message: `admission webhook "deny-weak.policy.example.com" denied the request: password "${SEEDED}" is too weak`,
    });

    // Act
    const translated = translateKubeError('prod-eu', CREATE, error);

    // Assess
    expect(translated.message).toBe(
      'forbidden: cannot create secrets in namespace "payments" of cluster "prod-eu" (HTTP 403 Forbidden; denied by admission webhook "deny-weak.policy.example.com")',
    );
    expect(translated.message).not.toContain(SEEDED);
  });

  it('maps a 404 for the namespace to NamespaceNotFound', () => {
    // Act
    const translated = translateKubeError(
      'prod-eu',
      CREATE,
      apiException(404, {
        reason: 'NotFound',
        message: 'namespaces "payments" not found',
        details: { name: 'payments', kind: 'namespaces' },
      }),
    );

    // Assess
    expect(translated.code).toBe('NamespaceNotFound');
    expect(translated.message).toBe('namespace "payments" not found in cluster "prod-eu"');
  });

  it('maps a 404 for the object itself to a non-retryable KubernetesError', () => {
    // Act
    const translated = translateKubeError(
      'prod-eu',
      { verb: 'patch', resource: 'deployments', namespace: 'payments', name: 'api' },
      apiException(404, { reason: 'NotFound', details: { name: 'api', kind: 'deployments' } }),
    );

    // Assess
    expect(translated).toMatchObject({ code: 'KubernetesError', retryable: false });
    expect(translated.message).toBe('deployment "payments/api" not found in cluster "prod-eu"');
  });

  it('maps a 404 on update (deleted since we read it) to Conflict, so the writer re-reads', () => {
    // Act
    const translated = translateKubeError(
      'prod-eu',
      { ...CREATE, verb: 'update' },
      apiException(404, { reason: 'NotFound', details: { name: 'payments-db', kind: 'secrets' } }),
    );

    // Assess
    expect(translated.code).toBe('Conflict');
    expect(translated.message).toBe('secret "payments/payments-db" was deleted concurrently in cluster "prod-eu"');
  });

  it.each([
    ['AlreadyExists', 'secret "payments/payments-db" already exists in cluster "prod-eu"'],
    [
      'Conflict',
      'secret "payments/payments-db" was modified concurrently in cluster "prod-eu" (cannot create: HTTP 409 Conflict)',
    ],
  ])('maps 409 %s to Conflict', (reason, message) => {
    // Act
    const translated = translateKubeError('prod-eu', CREATE, apiException(409, { reason }));

    // Assess
    expect(translated.code).toBe('Conflict');
    expect(translated.message).toBe(message);
  });

  it('maps 422 Invalid to KubernetesError with the field paths and cause types, not the messages', () => {
    // Prepare: the server's own validation of a .dockerconfigjson quotes the JSON error on the value.
    const quoted = `Invalid value: "<secret contents redacted>": invalid character '${SEEDED}' looking for beginning of value`;
    const error = apiException(422, {
      reason: 'Invalid',
      message: `Secret "payments-db" is invalid: data[.dockerconfigjson]: ${quoted}`,
      details: {
        name: 'payments-db',
        kind: 'Secret',
        causes: [{ reason: 'FieldValueInvalid', message: quoted, field: 'data[.dockerconfigjson]' }],
      },
    });

    // Act
    const translated = translateKubeError('prod-eu', CREATE, error);

    // Assess
    expect(translated).toMatchObject({ code: 'KubernetesError', retryable: false });
    expect(translated.message).toBe(
      'cannot create secret "payments/payments-db" in cluster "prod-eu" (HTTP 422 Invalid: data[.dockerconfigjson] FieldValueInvalid)',
    );
  });

  it('names the ValidatingAdmissionPolicy that refused a request, not its message expression', () => {
    // Act
    const translated = translateKubeError(
      'prod-eu',
      CREATE,
      apiException(422, {
        reason: 'Invalid',
        message: `ValidatingAdmissionPolicy 'secret-rules' with binding 'secret-rules-prod' denied request: value ${SEEDED} rejected`,
        details: { causes: [{ message: `value ${SEEDED} rejected` }] },
      }),
    );

    // Assess
    expect(translated.message).toBe(
      'cannot create secret "payments/payments-db" in cluster "prod-eu" (HTTP 422 Invalid; denied by ValidatingAdmissionPolicy "secret-rules" (binding "secret-rules-prod"))',
    );
  });

  it.each([403, 409, 422])(
    'keeps no webhook-chosen text in HTTP %i: reasons, kinds and fields outside the vocabulary',
    (code) => {
      // Prepare: a webhook may set the whole Status, reason and causes included.
      const error = apiException(code, {
        reason: SEEDED,
        message: `admission webhook "x" denied the request: ${SEEDED}`,
        details: {
          kind: `has space ${SEEDED}`,
          name: `${SEEDED} too`,
          causes: [
            { reason: SEEDED, field: `data[${SEEDED}] = "${SEEDED}"`, message: SEEDED },
            { reason: 'FieldValueForbidden', field: 'data[token]' },
          ],
        },
      });

      // Act
      const translated = translateKubeError('prod-eu', CREATE, error);

      // Assess
      expect(translated.message).not.toContain(SEEDED);
      expect(translated.message).toContain(`HTTP ${code}`);
      if (code === 422) expect(translated.message).toContain('data[token] FieldValueForbidden');
    },
  );

  it.each([429, 500, 503, 504])('marks HTTP %i as retryable', (code) => {
    // Act
    const translated = translateKubeError('prod-eu', CREATE, apiException(code, { reason: 'ServiceUnavailable' }));

    // Assess
    expect(translated).toMatchObject({ code: 'KubernetesError', retryable: true });
    expect(translated.message).toContain(`HTTP ${code}`);
  });

  it('maps 401 to ClusterUnavailable (credentials rejected)', () => {
    // Act
    const translated = translateKubeError('prod-eu', CREATE, new ApiException(401, 'Unauthorized', undefined, {}));

    // Assess
    expect(translated.code).toBe('ClusterUnavailable');
    expect(translated.message).toContain('rejected our credentials');
  });

  it('copies no server message for 400, which may quote the request', () => {
    // Act
    const translated = translateKubeError(
      'prod-eu',
      CREATE,
      apiException(400, { reason: 'BadRequest', message: 'cannot decode "c3VwZXItc2VjcmV0"' }),
    );

    // Assess
    expect(translated.code).toBe('KubernetesError');
    expect(translated.message).not.toContain('c3VwZXItc2VjcmV0');
  });

  it('maps connection failures to retryable ClusterUnavailable with the socket error code', () => {
    // Prepare
    const error = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
    });

    // Act
    const translated = translateKubeError('prod-eu', CREATE, error);

    // Assess
    expect(translated).toMatchObject({ code: 'ClusterUnavailable', retryable: true });
    expect(translated.message).toBe(
      'cluster "prod-eu" unreachable while trying to create secrets in namespace "payments": TypeError (ECONNREFUSED)',
    );
  });

  it('does not retry certificate failures', () => {
    // Prepare
    const cause = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });

    // Act
    const translated = translateKubeError('prod-eu', CREATE, new TypeError('fetch failed', { cause }));

    // Assess
    expect(translated).toMatchObject({ code: 'ClusterUnavailable', retryable: false });
    expect(translated.message).toContain('TLS verification failed');
  });

  it('passes SyncErrors through unchanged', () => {
    // Prepare
    const error = new SyncError('ClusterUnavailable', 'cluster "prod-eu": cannot assume role');

    // Act / Assess
    expect(translateKubeError('prod-eu', CREATE, error)).toBe(error);
  });
});
