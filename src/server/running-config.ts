// The config in force, and what is derived from it that a reload swaps: the key ring, the
// limiter store (kept when [api.rate_limit] is unchanged, so that counts survive a reload) and the
// response store (its limits changed in place; reopened only when where it is changed).
import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config/schema.js';
import { ConfigError, type LoadedConfig } from '../config/load-config.js';
import { createKeyRing, type KeyRing } from '../http/key-ring.js';
import { createLimiterStore, type LimiterStore } from '../limits/limiter-store.js';
import type { Logger } from '../logger.js';
import { openResponseStore } from '../responses/open-response-store.js';
import type { ResponseStore, ResponseStoreLimits } from '../responses/response-store.js';
import type { ResponseStoreSettings } from '../config/response-store-settings.js';
import { ResponseStoreFileError } from '../responses/sqlite-response-store.js';

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

/** Opens `loaded`'s response store; a file that cannot be used is a config error naming the key. */
function responseStoreOf(loaded: LoadedConfig, logger: Logger): ResponseStore {
  try {
    return openResponseStore(loaded.responseStore, logger);
  } catch (error) {
    if (error instanceof ResponseStoreFileError) throw new ConfigError(loaded.file, [{ keyPath: 'api.responses.path', message: error.message }]);
    throw error;
  }
}

/** The settings a running store can apply in place (see ResponseStore.setLimits). */
function limitsOf(settings: ResponseStoreSettings): ResponseStoreLimits {
  return { retentionSeconds: settings.retentionSeconds, maxStored: settings.maxStored };
}

/** Whether `next` names another store than `current` (and not only other limits or a size cap). */
function storeMoved(current: ResponseStoreSettings, next: ResponseStoreSettings): boolean {
  const place = ({ store, path, redisUrl, keyPrefix }: ResponseStoreSettings) => ({ store, path, redisUrl, keyPrefix });
  return !isDeepStrictEqual(place(current), place(next));
}

export class RunningConfig {
  #loaded: LoadedConfig;
  #keyRing: KeyRing;
  #limiterStore: LimiterStore;
  #responseStore: ResponseStore;

  constructor(
    loaded: LoadedConfig,
    private readonly logger: Logger,
  ) {
    this.#loaded = loaded;
    this.#keyRing = keyRingOf(loaded);
    // First: an unusable file fails the start before anything else is made.
    this.#responseStore = responseStoreOf(loaded, logger);
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

  get responseStore(): ResponseStore {
    return this.#responseStore;
  }

  /**
   * Puts a validated config in force; returns the one it replaces. Throws (changing nothing) when
   * a changed [api.responses] names a file that cannot be used.
   */
  swap(next: LoadedConfig): LoadedConfig {
    const reopen = storeMoved(this.#loaded.responseStore, next.responseStore);
    const responseStore = reopen ? responseStoreOf(next, this.logger) : this.#responseStore;
    const previous = this.#loaded;
    this.#loaded = next;
    this.#keyRing = keyRingOf(next);
    this.#logNotices(next);
    if (!isDeepStrictEqual(previous.config.api.rate_limit, next.config.api.rate_limit)) {
      const old = this.#limiterStore;
      this.#limiterStore = createLimiterStore(next.config.api.rate_limit, this.logger);
      void old.dispose();
    }
    if (reopen) {
      // Requests look the store up at each use; a save already under way in the old one ends there
      // first (its close waits for it).
      const old = this.#responseStore;
      this.#responseStore = responseStore;
      void old.close().catch((error: unknown) => this.logger.warn({ err: error }, 'closing the replaced response store failed'));
    } else {
      this.#responseStore.setLimits(limitsOf(next.responseStore));
    }
    return previous;
  }

  async dispose(): Promise<void> {
    await Promise.all([this.#limiterStore.dispose(), this.#responseStore.close()]);
  }
}
