// The configured API keys and who each belongs to. Presented keys are hashed and compared with
// timingSafeEqual against every configured key's SHA-256, so neither the length nor the content
// of a key leaks through timing, and the gateway never holds a key it could log.
import { createHash, timingSafeEqual } from 'node:crypto';
import picomatch from 'picomatch';
import type { ResolvedKey } from '../config/load-config.js';
import type { Limits } from '../limits/rate-limit.js';

export interface Principal {
  /** The key's name as shown in logs and metrics; never the key itself. */
  name: string;
  role: 'user' | 'admin';
  limits: Limits;
  /** Whether this key may use a model known by these names (id and aliases). */
  mayUse(names: readonly string[]): boolean;
}

export interface KeyRing {
  requireAuth: boolean;
  /** Whether any key is configured: a presented key is then checked even without requireAuth. */
  hasKeys: boolean;
  allowQueryKey: boolean;
  /** Limits for requests without a key (auth off), counted per client address. */
  anonymousLimits: Limits;
  /** The principal a presented key belongs to, or undefined. */
  identify(presentedKey: string): Principal | undefined;
}

function toPrincipal(key: ResolvedKey): Principal {
  const matchers = key.models.map((pattern) => picomatch(pattern, { dot: true }));
  return {
    name: key.name,
    role: key.role,
    limits: { maxRequestsPerMinute: key.maxRequestsPerMinute, maxTokensPerMinute: key.maxTokensPerMinute, maxConcurrentRequests: key.maxConcurrentRequests },
    mayUse: (names) => names.some((name) => matchers.some((matches) => matches(name))),
  };
}

export function createKeyRing(options: { requireAuth: boolean; allowQueryKey: boolean; keys: ResolvedKey[]; anonymousLimits: Limits }): KeyRing {
  const keys = options.keys.map((key) => ({ sha256: key.sha256, principal: toPrincipal(key) }));
  return {
    requireAuth: options.requireAuth,
    hasKeys: keys.length > 0,
    allowQueryKey: options.allowQueryKey,
    anonymousLimits: options.anonymousLimits,
    identify(presentedKey) {
      const presented = createHash('sha256').update(presentedKey, 'utf8').digest();
      let found: Principal | undefined;
      // Every key is compared, found or not, so the time taken does not depend on which matched.
      for (const key of keys) if (timingSafeEqual(key.sha256, presented)) found = key.principal;
      return found;
    },
  };
}
