// What the response store is, once [api.responses] is read beside [api.rate_limit]: the keys left
// unset follow the rate-limit store (replicas that share limits through Redis must share stored
// responses too, or a continuation sent to another replica would not find its previous response).
import path from 'node:path';
import { environment } from '../environment.js';
import type { Config } from './schema.js';

export const DEFAULT_MAX_STORED_RESPONSES = 100_000;

export interface ResponseStoreSettings {
  store: 'sqlite' | 'redis' | 'memory';
  /** The SQLite file, absolute (resolved against the config file's folder). */
  path: string;
  retentionSeconds: number;
  /** Most responses the sqlite and memory stores keep (oldest purged first). */
  maxStored: number;
  /** Set when `store` is "redis" (the config is refused otherwise). */
  redisUrl?: string;
  keyPrefix: string;
}

export interface ResponseStoreSettingsProblem {
  keyPath: string[];
  message: string;
}

/** Where the SQLite file is when [api.responses] path is unset. */
export function defaultResponseStorePath(configDirectory: string, dataDirectory = environment.dataDirectory): string {
  return dataDirectory === undefined ? path.resolve(configDirectory, 'data', 'responses.sqlite') : path.resolve(dataDirectory, 'responses.sqlite');
}

export function resolveResponseStoreSettings(
  config: Config,
  configDirectory: string,
): { settings: ResponseStoreSettings; problems: ResponseStoreSettingsProblem[] } {
  const responses = config.api.responses;
  const rateLimit = config.api.rate_limit;
  const store = responses.store ?? (rateLimit.store === 'redis' ? 'redis' : 'sqlite');
  const settings: ResponseStoreSettings = {
    store,
    path: responses.path === undefined ? defaultResponseStorePath(configDirectory) : path.resolve(configDirectory, responses.path),
    retentionSeconds: responses.retention_hours * 3600,
    maxStored: responses.max_stored ?? DEFAULT_MAX_STORED_RESPONSES,
    redisUrl: responses.redis_url ?? rateLimit.redis_url,
    keyPrefix: responses.key_prefix ?? rateLimit.key_prefix,
  };
  const problems: ResponseStoreSettingsProblem[] = [];
  // When the store follows [api.rate_limit], that table's own check reports a missing URL.
  if (responses.store === 'redis' && settings.redisUrl === undefined)
    problems.push({ keyPath: ['api', 'responses', 'store'], message: 'store = "redis" needs redis_url (here or in [api.rate_limit])' });
  // Honoured or refused, never ignored: counting Redis keys is not cheap, Redis bounds itself.
  if (store === 'redis' && responses.max_stored !== undefined)
    problems.push({
      keyPath: ['api', 'responses', 'max_stored'],
      message: 'max_stored applies to the sqlite and memory stores; bound Redis with its maxmemory and a volatile-* policy',
    });
  return { settings, problems };
}
