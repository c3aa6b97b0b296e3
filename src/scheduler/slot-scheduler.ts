// Per-model admission: at most `slots` runs at once (one per llama.cpp sequence), a bounded FIFO
// queue behind them, a wait limit, and removal of a waiter whose client left.
import { errors } from '../errors.js';

export interface SlotSchedulerOptions {
  model: string;
  slots: number;
  /** Waiters allowed behind the busy slots; one more gets a 429. */
  maxQueue: number;
  /** A waiter older than this gets a 503. */
  queueTimeoutMs: number;
}

interface Waiter {
  grant: () => void;
  fail: (error: unknown) => void;
}

export class AbortedError extends Error {
  constructor() {
    super('The client closed the request.');
    this.name = 'AbortError';
  }
}

export class SlotScheduler {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  private closed = false;

  constructor(private readonly options: SlotSchedulerOptions) {}

  get activeCount(): number {
    return this.active;
  }

  get queueDepth(): number {
    return this.waiting.length;
  }

  /**
   * Runs `work` once a slot is free. `onQueued` tells the caller how long it waited (for
   * metrics and the access log). The slot is released however `work` ends.
   */
  async run<T>(signal: AbortSignal, work: () => Promise<T>, onAdmitted?: (waitedMs: number) => void): Promise<T> {
    const started = performance.now();
    await this.admit(signal);
    onAdmitted?.(performance.now() - started);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private admit(signal: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(errors.unavailable(`Model '${this.options.model}' is shutting down.`, 5_000, 'model_unloading'));
    if (signal.aborted) return Promise.reject(new AbortedError());
    if (this.active < this.options.slots && this.waiting.length === 0) {
      this.active++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.options.maxQueue) {
      return Promise.reject(
        errors.rateLimited(
          `Model '${this.options.model}' is busy: ${this.active} requests running and ${this.waiting.length} waiting (max_queue). Retry shortly.`,
          this.options.queueTimeoutMs > 0 ? Math.min(this.options.queueTimeoutMs, 2_000) : 1_000,
          'queue_full',
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
      };
      const onAbort = () => {
        leave();
        reject(new AbortedError());
      };
      const timer = setTimeout(() => {
        leave();
        reject(
          errors.unavailable(
            `Request waited ${Math.round(this.options.queueTimeoutMs / 1000)} s for model '${this.options.model}' (queue_timeout) and timed out. Retry later.`,
            Math.min(this.options.queueTimeoutMs, 10_000),
            'queue_timeout',
          ),
        );
      }, this.options.queueTimeoutMs);
      const waiter: Waiter = {
        grant: () => {
          leave();
          resolve();
        },
        fail: (error) => {
          leave();
          reject(error);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private release(): void {
    const next = this.waiting[0];
    if (next && !this.closed) {
      // The slot passes straight to the next waiter: `active` stays the same.
      next.grant();
    } else {
      this.active--;
    }
  }

  /** Fails every waiter; runs already admitted finish. */
  close(): void {
    this.closed = true;
    for (const waiter of [...this.waiting]) waiter.fail(errors.unavailable(`Model '${this.options.model}' is shutting down.`, 5_000, 'model_unloading'));
  }
}
