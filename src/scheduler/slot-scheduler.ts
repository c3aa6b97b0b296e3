// Per-model admission: at most `slots` runs at once (one per llama.cpp sequence), a bounded FIFO
// queue behind them, a wait limit, and removal of a waiter whose client left. One request holds at
// most `maxSlotsPerRequest` slots (its n choices take turns), and a run holds its slot at most
// `maxRunMs`.
import { GenerationTimeoutError, ModelClosingError, QueueFullError, QueueTimeoutError } from '../model-call/admission-errors.js';

export interface SlotSchedulerOptions {
  model: string;
  slots: number;
  /** Waiters allowed behind the busy slots; one more gets a 429. */
  maxQueue: number;
  /** A waiter older than this gets a 503. */
  queueTimeoutMs: number;
  /** Slots one request may hold at once; its further runs wait for one of its own to end. */
  maxSlotsPerRequest?: number;
  /** A run still holding its slot after this long is aborted and fails with a 504. */
  maxRunMs?: number;
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

/**
 * The slots of one request. Its runs beyond the cap wait here rather than in the model's queue, and
 * join the queue's tail when one of the request's runs ends: an `n = 16` request on a model of four
 * slots held all four for its whole run (another key's 4-token chat waited 8.1 s); capped, the others
 * take their turn between its choices.
 */
export class RequestSlots {
  #held = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(readonly limit: number) {}

  take(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(new AbortedError());
    if (this.#held < this.limit) {
      this.#held++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const index = this.#waiting.indexOf(grant);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(new AbortedError());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(grant);
    });
  }

  give(): void {
    const next = this.#waiting.shift();
    // The slot passes straight to the request's next run: `held` stays the same.
    if (next) next();
    else this.#held--;
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

  /** The share of the slots one request's runs hold together (pass it to each of its runs). */
  requestSlots(): RequestSlots {
    return new RequestSlots(Math.min(this.options.maxSlotsPerRequest ?? this.options.slots, this.options.slots));
  }

  /**
   * Runs `work` once a slot is free (and `request` has one of its share left). `onAdmitted` tells the
   * caller how long it waited (for metrics and the access log). The slot is released however `work`
   * ends. `work` gets a signal that also fires when the run's time (`maxRunMs`) is up; the run then
   * fails with a 504 `generation_timeout`, whatever `work` returned.
   */
  async run<T>(signal: AbortSignal, work: (signal: AbortSignal) => Promise<T>, onAdmitted?: (waitedMs: number) => void, request?: RequestSlots): Promise<T> {
    const started = performance.now();
    await request?.take(signal);
    try {
      await this.admit(signal);
      onAdmitted?.(performance.now() - started);
      try {
        return await this.runWithinTime(signal, work);
      } finally {
        this.release();
      }
    } finally {
      request?.give();
    }
  }

  private async runWithinTime<T>(signal: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const limitMs = this.options.maxRunMs;
    if (limitMs === undefined) return await work(signal);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), limitMs);
    const timedOut = () => deadline.signal.aborted && !signal.aborted;
    try {
      const result = await work(AbortSignal.any([signal, deadline.signal]));
      if (timedOut()) throw this.timeoutError(limitMs);
      return result;
    } catch (error) {
      if (timedOut()) throw this.timeoutError(limitMs);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private timeoutError(limitMs: number): GenerationTimeoutError {
    return new GenerationTimeoutError(this.options.model, limitMs);
  }

  private admit(signal: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new ModelClosingError(this.options.model));
    if (signal.aborted) return Promise.reject(new AbortedError());
    if (this.active < this.options.slots && this.waiting.length === 0) {
      this.active++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.options.maxQueue) {
      const retryAfterMs = this.options.queueTimeoutMs > 0 ? Math.min(this.options.queueTimeoutMs, 2_000) : 1_000;
      return Promise.reject(new QueueFullError(this.options.model, this.active, this.waiting.length, retryAfterMs));
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
        reject(new QueueTimeoutError(this.options.model, this.options.queueTimeoutMs, Math.min(this.options.queueTimeoutMs, 10_000)));
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
    for (const waiter of [...this.waiting]) waiter.fail(new ModelClosingError(this.options.model));
  }
}
