// Failed keys are counted per client address (an IPv6 client per /64) in the limiter store, so
// that with Redis every replica counts together. Past the limit, the address may only go on with
// a key it has already used successfully: any other key, right or wrong, and a missing one are
// 429 until the minute is over. A right guess is then answered like a wrong one, so guessing gets
// no further than the limit (without it: 3,477 guesses a second, all 401), while the clients
// already working from that address (behind the same NAT as the guesser) are not held up.
// Keys in use are remembered in this process only: a check costs them no store round trip, and a
// replica that has not seen one yet refuses it at worst until the address's minute is over.
import { RateLimiterRes } from 'rate-limiter-flexible';
import { errors } from '../errors.js';
import { clientNetworkOf } from './client-address.js';
import type { LimiterStore } from './limiter-store.js';
import { formatReset } from './rate-limit-headers.js';

export interface FailedKeyThrottleSettings {
  store: LimiterStore;
  /** Failed keys one address may present per minute before it is throttled; 0 = no limit. */
  maxFailuresPerMinute: number;
}

/** The owner of a right key: only its name is remembered here. */
export interface KeyOwner {
  name: string;
}

/** How long a key stays "in use" from an address after its last success. */
const KEY_IN_USE_MS = 60 * 60_000;
/** Address-and-key pairs remembered; the oldest is forgotten first (about 100 bytes each). */
const MAX_KEYS_IN_USE = 10_000;

export class FailedKeyThrottle {
  readonly #settings: () => FailedKeyThrottleSettings;
  /** `network key-name` → when its last success was, oldest first. */
  readonly #keysInUse = new Map<string, number>();

  constructor(settings: () => FailedKeyThrottleSettings) {
    this.#settings = settings;
  }

  /**
   * Lets the request through to the key check, or throws 429 while its address is throttled and
   * `principal` (the key's owner, if the key is right) has not been used from that address.
   * `presented`: whether the request carried a key at all (a missing key is refused while the
   * address is throttled, but never counted: it is no guess).
   */
  async admit(address: string, principal: KeyOwner | undefined, presented: boolean): Promise<void> {
    const blockedForMs = await this.blockedFor(address, principal, presented);
    if (blockedForMs === undefined) return;
    const { maxFailuresPerMinute } = this.#settings();
    throw errors.rateLimited(
      `Too many failed API keys from your address: the limit is ${maxFailuresPerMinute} a minute (max_auth_failures_per_minute). Retry in ${formatReset(blockedForMs)}.`,
      blockedForMs,
      'auth_failures_exceeded',
    );
  }

  /**
   * How long `address` stays throttled for `principal` (undefined when it is not). A presented key
   * not in use from the address, right or wrong, is counted first, in one atomic step, and given
   * back once found right: reading the count and adding to it in two steps let parallel guesses
   * all read "under the limit" before any was added (one Redis round trip for each). Public
   * routes, which must answer anyway, treat a throttled key as no key, so that an admin key guessed
   * there looks like a wrong one too.
   */
  async blockedFor(address: string, principal: KeyOwner | undefined, presented: boolean): Promise<number | undefined> {
    const { store, maxFailuresPerMinute } = this.#settings();
    if (maxFailuresPerMinute === 0) return undefined;
    const network = clientNetworkOf(address);
    if (principal && this.#inUse(network, principal.name)) return undefined;
    const limiter = store.limiter('failed-keys', maxFailuresPerMinute);
    if (!presented) {
      const failures = await limiter.get(network);
      return failures && failures.consumedPoints >= maxFailuresPerMinute ? failures.msBeforeNext : undefined;
    }
    try {
      await limiter.consume(network, 1);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return rejection.msBeforeNext;
      throw rejection;
    }
    if (principal) {
      await limiter.reward(network, 1);
      this.#remember(network, principal.name);
    }
    return undefined;
  }

  #inUse(network: string, keyName: string): boolean {
    const entry = `${network} ${keyName}`;
    const lastSuccess = this.#keysInUse.get(entry);
    if (lastSuccess === undefined || Date.now() - lastSuccess > KEY_IN_USE_MS) return false;
    this.#remember(network, keyName);
    return true;
  }

  #remember(network: string, keyName: string): void {
    const entry = `${network} ${keyName}`;
    // Delete first so that the entry moves to the end: the Map stays ordered oldest first.
    this.#keysInUse.delete(entry);
    this.#keysInUse.set(entry, Date.now());
    if (this.#keysInUse.size > MAX_KEYS_IN_USE) this.#keysInUse.delete(this.#keysInUse.keys().next().value!);
  }
}
