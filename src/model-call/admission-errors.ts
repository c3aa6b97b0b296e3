// What a model's admission throws (the slot scheduler for generations, the embedding batcher for
// embeddings and rerank): domain errors that say how long a client should wait before retrying,
// never an HTTP status (src/api/error-mapping.ts chooses those).
import { DomainError } from '../engine/errors.js';

/** The model's queue (`max_queue`) is full: a 429 `queue_full`. */
export class QueueFullError extends DomainError {
  constructor(readonly model: string, readonly running: number, readonly waiting: number, readonly retryAfterMs: number) {
    super(`Model '${model}' is busy: ${running} requests running and ${waiting} waiting (max_queue). Retry shortly.`);
  }
}

/** A request waited longer than `queue_timeout` for the model: a 503 `queue_timeout`. */
export class QueueTimeoutError extends DomainError {
  constructor(readonly model: string, readonly waitedMs: number, readonly retryAfterMs: number) {
    super(`Request waited ${Math.round(waitedMs / 1000)} s for model '${model}' (queue_timeout) and timed out. Retry later.`);
  }
}

/** A run held its slot longer than `max_generation_seconds` and was stopped: a 504 `generation_timeout`. */
export class GenerationTimeoutError extends DomainError {
  constructor(readonly model: string, readonly limitMs: number) {
    super(`Generation on model '${model}' ran longer than its limit of ${limitMs / 1000} s (max_generation_seconds) and was stopped.`);
  }
}

/** The model's instance is being unloaded and takes no more work: a 503 `model_unloading`. */
export class ModelClosingError extends DomainError {
  readonly retryAfterMs = 5_000;

  constructor(readonly model: string) {
    super(`Model '${model}' is shutting down.`);
  }
}
