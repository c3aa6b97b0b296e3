// The upstreams of one remote model: which are up, how busy each is, and how long a failing one
// stays out. Selection is least-busy among the upstreams that are up, rotating among equals so
// that light sequential traffic alternates. A failure keeps an upstream out for a backoff that
// doubles with each consecutive failure; a success (a request or a health check) brings it back.
// Each upstream takes at most `maxConcurrentPerUpstream` requests at once, also when the others are
// down: a request finding every candidate full waits for one to free up (the model's slots are
// sized for all upstreams, so with one down they would otherwise all land on the survivors). That
// wait is a queue like the model's own: `max_queue` requests at most, each for `queue_timeout`.
import { QueueFullError, QueueTimeoutError, type QueueLimits } from '../../src/scheduler/admission-errors.js';

export interface Upstream {
  /** Base URL up to and including /v1, without a trailing slash. */
  readonly url: string;
  inFlight: number;
  /** Consecutive failures; 0 when up. */
  failures: number;
  /** performance.now() before which the upstream is not picked. */
  downUntil: number;
  lastError?: string;
}

export interface UpstreamPoolSettings {
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Requests one upstream may have in flight; unlimited when absent. */
  maxConcurrentPerUpstream?: number;
  /** The model's queue limits, applied to requests waiting for a place on a full upstream. */
  queue?: QueueLimits;
  now?: () => number;
  onChange?: (upstream: Upstream, state: 'up' | 'down') => void;
}

export class UpstreamPool {
  readonly upstreams: Upstream[];
  private rotation = 0;
  private readonly now: () => number;
  /** Wakes the requests waiting in acquire() when an upstream frees up or changes state. */
  private readonly waiters = new Set<() => void>();

  constructor(
    urls: readonly string[],
    private readonly settings: UpstreamPoolSettings,
  ) {
    this.upstreams = urls.map((url) => ({ url, inFlight: 0, failures: 0, downUntil: 0 }));
    this.now = settings.now ?? (() => performance.now());
  }

  isUp(upstream: Upstream): boolean {
    return this.now() >= upstream.downUntil;
  }

  /** Whether any upstream is up now. */
  hasUp(): boolean {
    return this.upstreams.some((upstream) => this.isUp(upstream));
  }

  private hasRoom(upstream: Upstream): boolean {
    return upstream.inFlight < (this.settings.maxConcurrentPerUpstream ?? Number.POSITIVE_INFINITY);
  }

  /** The least busy upstream that is up, has room and is not in `tried`, or undefined. */
  pick(tried: ReadonlySet<Upstream> = new Set()): Upstream | undefined {
    const count = this.upstreams.length;
    const start = this.rotation++ % count;
    let best: Upstream | undefined;
    for (let offset = 0; offset < count; offset++) {
      const upstream = this.upstreams[(start + offset) % count];
      if (tried.has(upstream) || !this.isUp(upstream) || !this.hasRoom(upstream)) continue;
      if (!best || upstream.inFlight < best.inFlight) best = upstream;
    }
    return best;
  }

  /**
   * Takes a place on the upstream pick() chooses (give it back with release()). While every
   * upstream that is up and not in `tried` is full, waits for a place; undefined when there is no
   * such upstream, or once `signal` aborts. Throws QueueFullError when `queue.maxQueue` requests
   * already wait, QueueTimeoutError after `queue.queueTimeoutMs` of waiting.
   */
  async acquire(tried: ReadonlySet<Upstream>, signal?: AbortSignal): Promise<Upstream | undefined> {
    const queue = this.settings.queue;
    let deadline: number | undefined;
    for (;;) {
      if (signal?.aborted) return undefined;
      const upstream = this.pick(tried);
      if (upstream) {
        upstream.inFlight++;
        return upstream;
      }
      if (!this.upstreams.some((candidate) => !tried.has(candidate) && this.isUp(candidate))) return undefined;
      if (queue && deadline === undefined) {
        if (this.waiters.size >= queue.maxQueue) throw new QueueFullError(queue, `${this.waiters.size} requests waiting for a place on an upstream`);
        deadline = performance.now() + queue.queueTimeoutMs;
      }
      const left = deadline === undefined ? undefined : deadline - performance.now();
      if (left !== undefined && left <= 0) throw new QueueTimeoutError(queue!);
      await this.nextChange(signal, left);
    }
  }

  release(upstream: Upstream): void {
    upstream.inFlight--;
    this.wakeWaiters();
  }

  /** Resolves when an upstream frees up or changes state, `signal` aborts, or `timeoutMs` is over. */
  private nextChange(signal?: AbortSignal, timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(wake, timeoutMs);
      // Woken in arrival order: the oldest waiter picks first.
      this.waiters.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  private wakeWaiters(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** Keeps the upstream out for the backoff of its consecutive failures (at least `retryAfterMs`, when it said so). */
  markDown(upstream: Upstream, reason: string, retryAfterMs?: number): void {
    const wasUp = upstream.failures === 0;
    upstream.failures++;
    const backoff = Math.min(this.settings.backoffInitialMs * 2 ** (upstream.failures - 1), this.settings.backoffMaxMs);
    upstream.downUntil = this.now() + Math.max(backoff, Math.min(retryAfterMs ?? 0, this.settings.backoffMaxMs));
    upstream.lastError = reason;
    if (wasUp) this.settings.onChange?.(upstream, 'down');
    // A waiter whose last candidate went down gets its 503 now rather than at the next release.
    this.wakeWaiters();
  }

  markUp(upstream: Upstream): void {
    if (upstream.failures === 0 && upstream.downUntil === 0) return;
    upstream.failures = 0;
    upstream.downUntil = 0;
    upstream.lastError = undefined;
    this.settings.onChange?.(upstream, 'up');
    this.wakeWaiters();
  }

  /** How long until the first upstream is back: what a 503 tells clients to wait. */
  retryAfterMs(): number {
    const now = this.now();
    const waits = this.upstreams.map((upstream) => upstream.downUntil - now);
    return Math.max(1_000, Math.min(...waits));
  }

  /** For /v1/models metadata. */
  snapshot(): Array<{ url: string; status: 'up' | 'down'; in_flight: number; failures: number; last_error?: string }> {
    return this.upstreams.map((upstream) => ({
      url: upstream.url,
      status: this.isUp(upstream) ? 'up' : 'down',
      in_flight: upstream.inFlight,
      failures: upstream.failures,
      ...(upstream.lastError ? { last_error: upstream.lastError } : {}),
    }));
  }
}
