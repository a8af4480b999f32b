import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { ClusterConnectionError, SyncError } from '../../lib/errors.js';
import { type KubeOperation, retryAfter, translateKubeError } from '../../lib/kube/errors.js';

const CREATE: KubeOperation = { verb: 'create', resource: 'secrets', namespace: 'payments', name: 'payments-db' };
/** A secret value a server message quotes; it must not reach a translated error. */
const SEEDED = 'Seeded-Value-9f3k';

/** An ApiException as client-node throws it: `body` is the raw JSON text of a V1Status. */
function apiException(
  code: number,
  status: Record<string, unknown>,
  headers: Record<string, string> = {},
): ApiException<string> {
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, ...status });
  return new ApiException(code, 'Unknown API Status Code!', body, { 'content-type': 'application/json', ...headers });
}

/** A failed fetch as undici reports it: a TypeError whose cause carries the code. */
function fetchFailure(code: string, message = 'failed'): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(message), { code }) });
}

const GET: KubeOperation = { verb: 'get', resource: 'secrets', namespace: 'payments', name: 'payments-db' };
const TIMEOUTS = { connectMs: 2000, headersMs: 3000, bodyMs: 4000 };

/** translateKubeError for a call to cluster prod-eu, the one every case here names. */
function translate(operation: KubeOperation, error: unknown, timeouts?: Parameters<typeof translateKubeError>[3]) {
  return translateKubeError('prod-eu', operation, error, timeouts);
}

describe('translateKubeError', () => {
  it('maps 403 to Forbidden naming verb, resource, namespace, cluster and the reason, not the server message', () => {
    // Prepare
    const message =
      'secrets is forbidden: User "eks-secret-sync" cannot create resource "secrets" in API group "" in the namespace "payments"';
    const error = apiException(403, { reason: 'Forbidden', message, details: { kind: 'secrets' } });

    // Act
    const translated = translate(CREATE, error);

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
    const translated = translate(CREATE, error);

    // Assess
    expect(translated.message).toBe(
      'forbidden: cannot create secrets in namespace "payments" of cluster "prod-eu" (HTTP 403 Forbidden; denied by admission webhook "deny-weak.policy.example.com")',
    );
    expect(translated.message).not.toContain(SEEDED);
  });

  it('maps a 404 for the namespace to NamespaceNotFound', () => {
    // Act
    const translated = translate(
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
    const translated = translate(
      { verb: 'patch', resource: 'deployments', namespace: 'payments', name: 'api' },
      apiException(404, { reason: 'NotFound', details: { name: 'api', kind: 'deployments' } }),
    );

    // Assess
    expect(translated).toMatchObject({ code: 'KubernetesError', retryable: false });
    expect(translated.message).toBe('deployment "payments/api" not found in cluster "prod-eu"');
  });

  it('maps a 404 on update (deleted since we read it) to Conflict, so the writer re-reads', () => {
    // Act
    const translated = translate(
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
    const translated = translate(CREATE, apiException(409, { reason }));

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
    const translated = translate(CREATE, error);

    // Assess
    expect(translated).toMatchObject({ code: 'KubernetesError', retryable: false });
    expect(translated.message).toBe(
      'cannot create secret "payments/payments-db" in cluster "prod-eu" (HTTP 422 Invalid: data[.dockerconfigjson] FieldValueInvalid)',
    );
  });

  it('names the ValidatingAdmissionPolicy that refused a request, not its message expression', () => {
    // Act
    const translated = translate(
      CREATE,
      apiException(422, {
        reason: 'Invalid',
        message: `secrets "payments-db" is forbidden: ValidatingAdmissionPolicy 'secret-rules' with binding 'secret-rules-prod' denied request: value ${SEEDED} rejected`,
        details: { name: 'payments-db', kind: 'secrets', causes: [{ message: `value ${SEEDED} rejected` }] },
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
      const translated = translate(CREATE, error);

      // Assess
      expect(translated.message).not.toContain(SEEDED);
      expect(translated.message).toContain(`HTTP ${code}`);
      if (code === 422) expect(translated.message).toContain('data[token] FieldValueForbidden');
    },
  );

  it.each([429, 500, 503, 504])('marks HTTP %i as retryable', (code) => {
    // Act
    const translated = translate(CREATE, apiException(code, { reason: 'ServiceUnavailable' }));

    // Assess
    expect(translated).toMatchObject({ code: 'KubernetesError', retryable: true });
    expect(translated.message).toContain(`HTTP ${code}`);
  });

  it('maps 401 to ClusterUnavailable (credentials rejected)', () => {
    // Act
    const translated = translate(CREATE, new ApiException(401, 'Unauthorized', undefined, {}));

    // Assess
    expect(translated.code).toBe('ClusterUnavailable');
    expect(translated.message).toContain('rejected our credentials');
  });

  it('copies no server message for 400, which may quote the request', () => {
    // Act
    const translated = translate(
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
    const translated = translate(CREATE, error);

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
    const translated = translate(CREATE, new TypeError('fetch failed', { cause }));

    // Assess
    expect(translated).toMatchObject({ code: 'ClusterUnavailable', retryable: false });
    expect(translated.message).toContain('TLS verification failed');
  });

  it('maps a 429 or 5xx to a retryable error carrying the status and the Retry-After wait', () => {
    // Act
    const throttled = translate(
      GET,
      apiException(429, { reason: 'TooManyRequests', message: 'too many requests' }, { 'retry-after': '2' }),
    );
    const unavailable = translate(GET, apiException(503, { reason: 'ServiceUnavailable' }));

    // Assess
    expect(throttled).toMatchObject({ code: 'KubernetesError', retryable: true, status: 429, retryAfterMs: 2000 });
    expect(throttled.message).toBe(
      'cannot get secrets in namespace "payments" of cluster "prod-eu": HTTP 429 TooManyRequests',
    );
    expect(unavailable).toMatchObject({ retryable: true, status: 503 });
    expect(unavailable.retryAfterMs).toBeUndefined();
  });

  it('reads Retry-After as seconds or as an HTTP date, and ignores anything else', () => {
    // Prepare
    const now = Date.parse('2025-03-04T05:00:00Z');
    const headers = (value: string) => ({ headers: { 'Retry-After': value } });

    // Act / Assess
    expect(retryAfter(headers('0'), now)).toBe(0);
    expect(retryAfter(headers(' 5 '), now)).toBe(5000);
    expect(retryAfter(headers('Tue, 04 Mar 2025 05:00:03 GMT'), now)).toBe(3000);
    expect(retryAfter(headers('Tue, 04 Mar 2025 04:59:00 GMT'), now)).toBe(0);
    expect(retryAfter(headers('soon'), now)).toBeUndefined();
    expect(retryAfter(headers('-1'), now)).toBeUndefined();
    expect(retryAfter({}, now)).toBeUndefined();
  });

  it('maps each of our timeouts to a retryable Timeout naming cluster, operation and the time waited', () => {
    // Act
    const headers = translate(GET, fetchFailure('UND_ERR_HEADERS_TIMEOUT'), TIMEOUTS);
    const body = translate(GET, fetchFailure('UND_ERR_BODY_TIMEOUT'), TIMEOUTS);
    const connect = translate(CREATE, fetchFailure('UND_ERR_CONNECT_TIMEOUT'), TIMEOUTS);

    // Assess
    expect(headers).toBeInstanceOf(ClusterConnectionError);
    expect(headers).toMatchObject({ code: 'Timeout', retryable: true, failure: 'response' });
    expect(headers.message).toBe(
      'cluster "prod-eu" timed out while trying to get secrets in namespace "payments": ' +
        'no response headers within 3000 ms (UND_ERR_HEADERS_TIMEOUT)',
    );
    expect(body).toMatchObject({ code: 'Timeout', failure: 'response' });
    expect(body.message).toContain('response body stalled for 4000 ms');
    expect(connect).toMatchObject({ code: 'Timeout', failure: 'connect' });
    expect(connect.message).toContain('could not connect within 2000 ms');
  });

  it('says which step failed when no answer came: DNS, connect, TLS, or the response', () => {
    // Act
    const failures = ['ENOTFOUND', 'ECONNREFUSED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ECONNRESET'].map(
      (code) => translate(GET, fetchFailure(code)) as ClusterConnectionError,
    );

    // Assess
    expect(failures.map((f) => f.failure)).toEqual(['dns', 'connect', 'tls', 'response']);
    expect(failures.map((f) => f.retryable)).toEqual([true, true, false, true]);
    expect(failures.every((f) => f.code === 'ClusterUnavailable' && f.status === undefined)).toBe(true);
  });

  it('passes SyncErrors through unchanged', () => {
    // Prepare
    const error = new SyncError('ClusterUnavailable', 'cluster "prod-eu": cannot assume role');

    // Act / Assess
    expect(translate(CREATE, error)).toBe(error);
  });
});
