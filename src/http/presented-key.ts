// The API key a request presents (Authorization: Bearer, X-API-Key, or ?api_key= where allowed),
// and its owner on the public routes, which need no key but show more to an admin's.
import type { Context } from 'koa';
import type { FailedKeyThrottle } from '../limits/failed-key-throttle.js';
import type { KeyRing, Principal } from './key-ring.js';

export function presentedKey(ctx: Context, allowQueryKey: boolean): string | undefined {
  const bearer = /^Bearer\s+(.+)$/i.exec(ctx.get('authorization'));
  if (bearer) return bearer[1].trim();
  const headerKey = ctx.get('x-api-key').trim();
  if (headerKey !== '') return headerKey;
  if (allowQueryKey && typeof ctx.query.api_key === 'string' && ctx.query.api_key !== '') return ctx.query.api_key;
  return undefined;
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
