// Opens the response store that [api.responses] names (see src/config/response-store-settings.ts).
import type { ResponseStoreSettings } from '../config/response-store-settings.js';
import type { Logger } from '../logger.js';
import { closeWhenIdle } from './close-when-idle.js';
import { createRedisResponseStore } from './redis-response-store.js';
import { createMemoryResponseStore, type ResponseStore } from './response-store.js';
import { createSqliteResponseStore } from './sqlite-response-store.js';

/**
 * Throws a ResponseStoreFileError when the SQLite file cannot be used; Redis connects in the
 * background. Its close waits for the operations under way.
 */
export function openResponseStore(settings: ResponseStoreSettings, logger: Logger, now?: () => number): ResponseStore {
  return closeWhenIdle(openStore(settings, logger, now));
}

function openStore(settings: ResponseStoreSettings, logger: Logger, now?: () => number): ResponseStore {
  const options = { retentionSeconds: settings.retentionSeconds, maxStored: settings.maxStored, now };
  switch (settings.store) {
    case 'sqlite':
      return createSqliteResponseStore(settings.path, options, logger);
    case 'redis':
      return createRedisResponseStore({ redisUrl: settings.redisUrl!, keyPrefix: settings.keyPrefix }, options, logger);
    case 'memory':
      return createMemoryResponseStore(options);
  }
}
