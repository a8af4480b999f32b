/** EventBridge events and manual input -> SyncRequest. No SDK imports. */
export {
  type Continuation,
  type ContinuationBatch,
  type ContinuationQueue,
  continuation,
  readContinuation,
  readContinuationBatch,
} from './continuation.js';
export { type ParsedEvent, parseSecretEvent } from './eventbridge.js';
export {
  type IgnoredEvent,
  parseBackfillInput,
  reconcileRequest,
  rotationRequest,
  type ToSyncRequestOptions,
  toSyncRequest,
} from './request.js';
export {
  type BatchMessage,
  type BatchPass,
  isSqsBatch,
  type RotationBatch,
  readRotationBatch,
  type SqsRecordLike,
} from './sqs.js';
export { parseWorkItem, readWorkBatch, type WorkBatch, workRequest } from './work-item.js';
