// API-key check on the API's routes: a request without a valid key is refused when keys are
// required, and its key's owner (the principal) is known to everything after this.
import type { Middleware } from 'koa';
import { errors } from '../../errors.js';
import type { KeyRing } from '../../http/key-ring.js';
import { presentedKey } from '../../http/presented-key.js';
import type { FailedKeyThrottle } from '../../limits/failed-key-throttle.js';

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
