// API-key check. Keys are compared as SHA-256 digests with timingSafeEqual, so neither the
// length nor the content of a key leaks through timing.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import { errors } from '../../errors.js';

export interface Principal {
  /** The key's name as shown in logs and metrics; never the key itself. */
  name: string;
}

export interface KeyRing {
  requireAuth: boolean;
  /** The principal a presented key belongs to, or undefined. */
  identify(presentedKey: string): Principal | undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function createKeyRing(options: { requireAuth: boolean; apiKey?: string }): KeyRing {
  const keys = options.apiKey === undefined ? [] : [{ digest: digest(options.apiKey), principal: { name: 'default' } }];
  return {
    requireAuth: options.requireAuth,
    identify(presentedKey) {
      const presented = digest(presentedKey);
      let found: Principal | undefined;
      // Every key is compared, found or not, so the time taken does not depend on which matched.
      for (const key of keys) if (timingSafeEqual(key.digest, presented)) found = key.principal;
      return found;
    },
  };
}

function presentedKey(ctx: Context): string | undefined {
  const authorization = ctx.get('authorization');
  const bearer = /^Bearer\s+(.+)$/i.exec(authorization);
  if (bearer) return bearer[1].trim();
  const headerKey = ctx.get('x-api-key');
  return headerKey === '' ? undefined : headerKey.trim();
}

export function authenticate(keyRing: () => KeyRing): Middleware {
  return async function authenticate(ctx, next) {
    const ring = keyRing();
    const key = presentedKey(ctx);
    if (key !== undefined) {
      const principal = ring.identify(key);
      if (!principal && ring.requireAuth) throw errors.invalidApiKey();
      ctx.state.principal = principal;
    } else if (ring.requireAuth) {
      throw errors.invalidApiKey('You did not provide an API key. Send it as "Authorization: Bearer <key>" or "X-API-Key: <key>".');
    }
    await next();
  };
}
