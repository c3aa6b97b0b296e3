// The queue limits of an embedding model (`max_queue`, `queue_timeout`) and the errors they end a
// request with: the same statuses, codes and Retry-After as a generation model's queue
// (slot-scheduler.ts), so a client retries both the same way.
import { errors, type GatewayError } from '../errors.js';

export interface EmbeddingAdmission {
  /** The model's id, named in the errors. */
  model: string;
  /** Requests that may wait for the engine (config `max_queue`); one more gets a 429. */
  maxQueue: number;
  /** A request still waiting after this long gets a 503 (config `queue_timeout`). */
  queueTimeoutMs: number;
}

export function queueFullError(admission: EmbeddingAdmission, waiting: number): GatewayError {
  return errors.rateLimited(
    `Model '${admission.model}' is busy: ${waiting} requests waiting for the embedding engine (max_queue). Retry shortly.`,
    admission.queueTimeoutMs > 0 ? Math.min(admission.queueTimeoutMs, 2_000) : 1_000,
    'queue_full',
  );
}

export function queueTimeoutError(admission: EmbeddingAdmission): GatewayError {
  return errors.unavailable(
    `Request waited ${Math.round(admission.queueTimeoutMs / 1000)} s for model '${admission.model}' (queue_timeout) and timed out. Retry later.`,
    Math.min(admission.queueTimeoutMs, 10_000),
    'queue_timeout',
  );
}
