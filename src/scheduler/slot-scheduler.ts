// Per-model admission of generations: at most `slots` runs at once (one per llama.cpp sequence), a
// bounded FIFO queue of requests behind them, a wait limit, and removal of a waiter whose client
// left. A request is admitted once, whatever its number of choices: it waits in the queue for its
// first slot, then runs its choices on at most `maxSlotsPerRequest` slots, and each run holds its
// slot at most `maxRunMs`.
import { ModelUnloadingError } from '../registry/model-errors.js';
import { GenerationTimeoutError, QueueFullError, QueueTimeoutError } from './admission-errors.js';

export interface SlotSchedulerOptions {
  model: string;
  slots: number;
  /** Requests allowed to wait behind the busy slots; one more gets QueueFullError. */
  maxQueue: number;
  /** A request waiting longer than this gets QueueTimeoutError. */
  queueTimeoutMs: number;
  /** Slots one request may hold at once; its further choices wait for one of its own to end. */
  maxSlotsPerRequest?: number;
  /** A run still holding its slot after this long is aborted and fails with GenerationTimeoutError. */
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
 * One admitted request: it holds between one slot and its share until `end()`. Its choices run on
 * those slots; a choice beyond them takes a free slot when nobody waits in the model's queue, and
 * otherwise waits here for one of the request's own. Before, each choice queued on its own: a
 * request of n = 4 on one slot with max_queue = 1 was refused by its own choices, and an n = 16
 * request on four slots held all four (another key's 4-token chat waited 8.1 s); now the others
 * get the slots beyond the share, and queue ahead of the request's extra slots.
 */
export class RequestAdmission {
  #held = 1;
  #busy = 0;
  #ended = false;
  readonly #waiting: Array<() => void> = [];

  constructor(
    private readonly scheduler: SlotScheduler,
    readonly share: number,
  ) {}

  /** Slots the request holds now. */
  get heldSlots(): number {
    return this.#held;
  }

  /** True while one of its choices waits for a slot and the request may take another. */
  get wantsSlot(): boolean {
    return !this.#ended && this.#waiting.length > 0 && this.#held < this.share;
  }

  /** Runs one choice on one of the request's slots (see SlotScheduler.run for `work`'s signal). */
  async run<T>(signal: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    await this.#slot(signal);
    try {
      // A sibling that failed while this choice waited has aborted the request.
      if (signal.aborted) throw new AbortedError();
      return await this.scheduler.runWithinTime(signal, work);
    } finally {
      this.#done();
    }
  }

  /** Gives back every slot; the request is over. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (; this.#held > 0; this.#held--) this.scheduler.release();
  }

  /** A slot the scheduler found free for this request (see `wantsSlot`). */
  grantExtra(): void {
    this.#held++;
    this.#busy++;
    this.#waiting.shift()!();
  }

  #slot(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(new AbortedError());
    if (this.#busy < this.#held || (this.#held < this.share && this.scheduler.takeFreeSlot())) {
      if (this.#busy === this.#held) this.#held++;
      this.#busy++;
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

  #done(): void {
    this.#busy--;
    if (this.#ended) return;
    // Slots beyond the first go back when nobody of this request waits for them, or when other
    // requests queue for the model: the request keeps going on the slot it was admitted with.
    const next = this.#waiting.length > 0 && !(this.#held > 1 && this.scheduler.queueDepth > 0) ? this.#waiting.shift() : undefined;
    if (next) {
      // The slot passes straight to the request's next choice.
      this.#busy++;
      next();
    } else if (this.#held > 1) {
      this.#held--;
      this.scheduler.release();
    }
  }
}

export class SlotScheduler {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  private readonly admissions = new Set<RequestAdmission>();
  private closed = false;

  constructor(private readonly options: SlotSchedulerOptions) {}

  /** Slots in use. */
  get activeCount(): number {
    return this.active;
  }

  /** Requests waiting in the queue. */
  get queueDepth(): number {
    return this.waiting.length;
  }

  /**
   * Admits one request once it gets a slot in turn: QueueFullError at once when `maxQueue`
   * requests already wait, QueueTimeoutError after `queueTimeoutMs`, AbortedError when `signal`
   * fires first, ModelUnloadingError once the model unloads. The admission must be ended.
   */
  async admit(signal: AbortSignal): Promise<RequestAdmission> {
    await this.enter(signal);
    const admission = new RequestAdmission(this, Math.max(1, Math.min(this.options.maxSlotsPerRequest ?? this.options.slots, this.options.slots)));
    this.admissions.add(admission);
    return admission;
  }

  /**
   * Runs `work` as a request of one run. `onAdmitted` tells the caller how long it waited. `work`
   * gets a signal that also fires when the run's time (`maxRunMs`) is up; the run then fails with
   * GenerationTimeoutError, whatever `work` returned.
   */
  async run<T>(signal: AbortSignal, work: (signal: AbortSignal) => Promise<T>, onAdmitted?: (waitedMs: number) => void): Promise<T> {
    const started = performance.now();
    const admission = await this.admit(signal);
    try {
      onAdmitted?.(performance.now() - started);
      return await admission.run(signal, work);
    } finally {
      this.end(admission);
    }
  }

  /** Ends an admission: its slots go to the queue. */
  end(admission: RequestAdmission): void {
    this.admissions.delete(admission);
    admission.end();
  }

  /** @internal For RequestAdmission: runs one choice within `maxRunMs`. */
  async runWithinTime<T>(signal: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const limitMs = this.options.maxRunMs;
    if (limitMs === undefined) return await work(signal);
    const deadline = new AbortController();
    // The reason is the error itself: an engine that rethrows its signal's reason (llama-server,
    // aborted before its first token) fails the choice with it, not with a bare AbortError.
    const timer = setTimeout(() => deadline.abort(new GenerationTimeoutError(this.options.model, limitMs)), limitMs);
    const timedOut = () => deadline.signal.aborted && !signal.aborted;
    try {
      const result = await work(AbortSignal.any([signal, deadline.signal]));
      if (timedOut()) throw new GenerationTimeoutError(this.options.model, limitMs);
      return result;
    } catch (error) {
      if (timedOut()) throw new GenerationTimeoutError(this.options.model, limitMs);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** @internal For RequestAdmission: a free slot nobody queues for, taken at once, or false. */
  takeFreeSlot(): boolean {
    if (this.closed || this.active >= this.options.slots || this.waiting.length > 0) return false;
    this.active++;
    return true;
  }

  private enter(signal: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new ModelUnloadingError(this.options.model));
    if (signal.aborted) return Promise.reject(new AbortedError());
    if (this.active < this.options.slots && this.waiting.length === 0) {
      this.active++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.options.maxQueue) {
      return Promise.reject(new QueueFullError(this.options, `${this.active} requests running and ${this.waiting.length} waiting`));
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
        reject(new QueueTimeoutError(this.options));
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

  /** @internal For RequestAdmission: a slot given back goes to the queue first, then to a request that wants more. */
  release(): void {
    const next = this.waiting[0];
    if (next && !this.closed) {
      // The slot passes straight to the next waiter: `active` stays the same.
      next.grant();
      return;
    }
    for (const admission of this.admissions) {
      if (admission.wantsSlot) {
        admission.grantExtra();
        return;
      }
    }
    this.active--;
  }

  /** Fails every waiter; requests already admitted finish. */
  close(): void {
    this.closed = true;
    for (const waiter of [...this.waiting]) waiter.fail(new ModelUnloadingError(this.options.model));
  }
}
