// The config in force, and what is derived from it that a reload swaps: the key ring, and the
// limiter store (kept when [api.rate_limit] is unchanged, so that counts survive a reload).
import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config/schema.js';
import type { LoadedConfig } from '../config/load-config.js';
import { createKeyRing, type KeyRing } from '../http/key-ring.js';
import { createLimiterStore, type LimiterStore } from '../limits/limiter-store.js';
import type { Logger } from '../logger.js';

function keyRingOf(loaded: LoadedConfig): KeyRing {
  const api = loaded.config.api;
  return createKeyRing({
    requireAuth: loaded.requireAuth,
    allowQueryKey: api.allow_query_key,
    keys: loaded.keys,
    anonymousLimits: {
      maxRequestsPerMinute: api.max_requests_per_minute,
      maxTokensPerMinute: api.max_tokens_per_minute,
      maxConcurrentRequests: api.max_concurrent_requests,
    },
  });
}

export class RunningConfig {
  #loaded: LoadedConfig;
  #keyRing: KeyRing;
  #limiterStore: LimiterStore;

  constructor(
    loaded: LoadedConfig,
    private readonly logger: Logger,
  ) {
    this.#loaded = loaded;
    this.#keyRing = keyRingOf(loaded);
    this.#limiterStore = createLimiterStore(loaded.config.api.rate_limit, logger);
    this.#logNotices(loaded);
  }

  /** Said at every load, not only the first: an operator reading the log after a reload sees it too. */
  #logNotices(loaded: LoadedConfig): void {
    for (const { model, message } of loaded.notices) this.logger.warn({ model }, `model ${model} ${message}`);
  }

  get loaded(): LoadedConfig {
    return this.#loaded;
  }

  get config(): Config {
    return this.#loaded.config;
  }

  get keyRing(): KeyRing {
    return this.#keyRing;
  }

  get limiterStore(): LimiterStore {
    return this.#limiterStore;
  }

  /** Puts a validated config in force; returns the one it replaces. */
  swap(next: LoadedConfig): LoadedConfig {
    const previous = this.#loaded;
    this.#loaded = next;
    this.#keyRing = keyRingOf(next);
    this.#logNotices(next);
    if (!isDeepStrictEqual(previous.config.api.rate_limit, next.config.api.rate_limit)) {
      const old = this.#limiterStore;
      this.#limiterStore = createLimiterStore(next.config.api.rate_limit, this.logger);
      void old.dispose();
    }
    return previous;
  }

  dispose(): Promise<void> {
    return this.#limiterStore.dispose();
  }
}
