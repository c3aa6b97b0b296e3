// What a model's admission throws (the slot scheduler for generations, the embedding batcher for
// embeddings and rerank): domain errors that say how long a client should wait before retrying,
// never an HTTP status (src/api/error-mapping.ts chooses those).
import { DomainError } from '../engine/errors.js';

/** A model's queue settings, as both of its queues (slots, embedding batches) apply them. */
export interface QueueLimits {
  /** The model's id, named in the errors. */
  model: string;
  /** Requests that may wait (config `max_queue`); one more gets QueueFullError. */
  maxQueue: number;
  /** A request still waiting after this long gets QueueTimeoutError (config `queue_timeout`). */
  queueTimeoutMs: number;
}

/** The model's queue (`max_queue`) is full: a 429 `queue_full`. */
export class QueueFullError extends DomainError {
  /** Retry when a waiter may have left: soon, but not sooner than a second. */
  readonly retryAfterMs: number;

  constructor(
    limits: QueueLimits,
    readonly busy: string,
  ) {
    super(`Model '${limits.model}' is busy: ${busy} (max_queue). Retry shortly.`);
    this.retryAfterMs = limits.queueTimeoutMs > 0 ? Math.min(limits.queueTimeoutMs, 2_000) : 1_000;
  }
}

/** A request waited longer than `queue_timeout` for the model: a 503 `queue_timeout`. */
export class QueueTimeoutError extends DomainError {
  readonly retryAfterMs: number;

  constructor(limits: QueueLimits) {
    super(`Request waited ${Math.round(limits.queueTimeoutMs / 1000)} s for model '${limits.model}' (queue_timeout) and timed out. Retry later.`);
    this.retryAfterMs = Math.min(limits.queueTimeoutMs, 10_000);
  }
}

/** A run held its slot longer than `max_generation_seconds` and was stopped: a 504 `generation_timeout`. */
export class GenerationTimeoutError extends DomainError {
  constructor(
    readonly model: string,
    readonly limitMs: number,
  ) {
    super(`Generation on model '${model}' ran longer than its limit of ${limitMs / 1000} s (max_generation_seconds) and was stopped.`);
  }
}
