/** EventBridge events and manual input -> SyncRequest. No SDK imports. */
export { type ParsedEvent, parseSecretEvent } from './eventbridge.js';
export { parseBackfillInput, reconcileRequest, type ToSyncRequestOptions, toSyncRequest } from './request.js';
export { isSecretArn, matchesSecretId, nameFromArn, type SecretIdRef } from './secret-id.js';
