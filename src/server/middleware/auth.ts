// API-key check. Presented keys are hashed and compared with timingSafeEqual against every
// configured key's SHA-256, so neither the length nor the content of a key leaks through timing,
// and the gateway never holds a key it could log.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import picomatch from 'picomatch';
import type { ResolvedKey } from '../../config/load-config.js';
import { errors } from '../../errors.js';
import type { FailedKeyThrottle } from '../../limits/failed-key-throttle.js';

export interface Limits {
  maxRequestsPerMinute: number;
  maxTokensPerMinute: number;
  maxConcurrentRequests: number;
}

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

function presentedKey(ctx: Context, allowQueryKey: boolean): string | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(ctx.get('authorization'));
  if (bearer) return bearer[1].trim();
  const headerKey = ctx.get('x-api-key').trim();
  if (headerKey !== '') return headerKey;
  if (allowQueryKey && typeof ctx.query.api_key === 'string' && ctx.query.api_key !== '') return ctx.query.api_key;
  return undefined;
}

export function authenticate(keyRing: () => KeyRing, failedKeys: FailedKeyThrottle): Middleware {
  return async function authenticate(ctx, next) {
    const ring = keyRing();
    const key = presentedKey(ctx, ring.allowQueryKey);
    const principal = key === undefined ? undefined : ring.identify(key);
    // Without requireAuth a request may come without a key, but a presented key that matches none
    // of the configured ones is refused (and counted as a guess), not served as anonymous. With no
    // key configured there is nothing to check it against: any key is anonymous, since SDKs insist
    // on sending one (OPENAI_API_KEY=sk-anything).
    const checked = ring.requireAuth || (ring.hasKeys && key !== undefined);
    if (checked) await failedKeys.admit(ctx.ip, principal, key !== undefined);
    if (checked && !principal) {
      throw key === undefined
        ? errors.invalidApiKey('You did not provide an API key. Send it as "Authorization: Bearer <key>" or "X-API-Key: <key>".')
        : errors.invalidApiKey();
    }
    ctx.state.principal = principal;
    await next();
  };
}

/**
 * The principal of a key a request presents on a public route (/health, /ready), which needs no
 * key but shows more to an admin's. A wrong key there is only an anonymous caller, but it counts
 * as a failed key, and a throttled address is anonymous whatever it presents: otherwise these
 * routes would let anyone guess admin keys without limit.
 */
export async function optionalPrincipal(ctx: Context, ring: KeyRing, failedKeys: FailedKeyThrottle): Promise<Principal | undefined> {
  const key = presentedKey(ctx, ring.allowQueryKey);
  if (key === undefined) return undefined;
  const principal = ring.identify(key);
  if ((await failedKeys.blockedFor(ctx.ip, principal, true)) !== undefined) return undefined;
  return principal;
}

/** The principal of a request, if it presented a valid key. */
export function principalOf(ctx: Context): Principal | undefined {
  return ctx.state.principal as Principal | undefined;
}
