// The upstreams of one remote model: which are up, how busy each is, and how long a failing one
// stays out. Selection is least-busy among the upstreams that are up, rotating among equals so
// that light sequential traffic alternates. A failure keeps an upstream out for a backoff that
// doubles with each consecutive failure; a success (a request or a health check) brings it back.

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
  now?: () => number;
  onChange?: (upstream: Upstream, state: 'up' | 'down') => void;
}

export class UpstreamPool {
  readonly upstreams: Upstream[];
  private rotation = 0;
  private readonly now: () => number;

  constructor(urls: readonly string[], private readonly settings: UpstreamPoolSettings) {
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

  /** The least busy upstream that is up and not in `tried`, or undefined. */
  pick(tried: ReadonlySet<Upstream> = new Set()): Upstream | undefined {
    const count = this.upstreams.length;
    const start = this.rotation++ % count;
    let best: Upstream | undefined;
    for (let offset = 0; offset < count; offset++) {
      const upstream = this.upstreams[(start + offset) % count];
      if (tried.has(upstream) || !this.isUp(upstream)) continue;
      if (!best || upstream.inFlight < best.inFlight) best = upstream;
    }
    return best;
  }

  /** Keeps the upstream out for the backoff of its consecutive failures (at least `retryAfterMs`, when it said so). */
  markDown(upstream: Upstream, reason: string, retryAfterMs?: number): void {
    const wasUp = upstream.failures === 0;
    upstream.failures++;
    const backoff = Math.min(this.settings.backoffInitialMs * 2 ** (upstream.failures - 1), this.settings.backoffMaxMs);
    upstream.downUntil = this.now() + Math.max(backoff, Math.min(retryAfterMs ?? 0, this.settings.backoffMaxMs));
    upstream.lastError = reason;
    if (wasUp) this.settings.onChange?.(upstream, 'down');
  }

  markUp(upstream: Upstream): void {
    if (upstream.failures === 0 && upstream.downUntil === 0) return;
    upstream.failures = 0;
    upstream.downUntil = 0;
    upstream.lastError = undefined;
    this.settings.onChange?.(upstream, 'up');
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
