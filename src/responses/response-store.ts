// Where stored Responses API responses live (POST /v1/responses with store, GET/DELETE
// /v1/responses/{id}, previous_response_id): one interface, whichever database holds them. A
// response belongs to the key that made it; every read names that key, so that another key's id is
// indistinguishable from one that does not exist. Every store forgets a response `retentionSeconds`
// after it was made (its createdAt), by the retention in force now: an expired response is never
// returned, whether or not it was purged yet, and lowering the retention expires older ones at once.
import { DomainError } from '../engine/errors.js';

/** One stored response: what GET returns, what input_items lists, and what a continuation needs. */
export interface StoredResponse {
  id: string;
  /** The name of the key that made it; '' for a request without a key. */
  owner: string;
  /** Unix seconds, as the response's `created_at`. */
  createdAt: number;
  /** The response object as the API returns it. */
  response: Record<string, unknown>;
  /** This request's input items (with ids), as GET /v1/responses/{id}/input_items lists them. */
  inputItems: Array<Record<string, unknown>>;
  /**
   * The conversation before this request's input, as items: the previous response's history, its
   * input and its output. A continuation's prompt is this, the input and the output, in order.
   */
  history: Array<Record<string, unknown>>;
}

export interface ResponseStoreStatus {
  store: 'sqlite' | 'redis' | 'memory';
  healthy: boolean;
  /** Why it is unhealthy (an address, a reason): shown to admin keys only. */
  detail?: string;
}

export interface ResponseStore {
  save(stored: StoredResponse): Promise<void>;
  /** The response `id` when `owner` made it and it has not expired or been deleted; undefined otherwise. */
  load(id: string, owner: string): Promise<StoredResponse | undefined>;
  /** Deletes the response `id` of `owner`; false when there was none. */
  delete(id: string, owner: string): Promise<boolean>;
  /** For /health: whether saves and loads can succeed now. */
  status(): ResponseStoreStatus;
  /** A reload that changes only these applies them in place: no reopening, nothing in flight disturbed. */
  setLimits(limits: ResponseStoreLimits): void;
  close(): Promise<void>;
}

/** What a reload may change without reopening the store. */
export interface ResponseStoreLimits {
  /** A response expires this long after it was made. */
  retentionSeconds: number;
  /** Most responses kept (where the store can count cheaply: sqlite, memory); the oldest go first. */
  maxStored: number;
}

/** Whether a response made at `createdAt` (Unix seconds) has expired at `nowMs` under `retentionSeconds`. */
export function hasExpired(createdAt: number, retentionSeconds: number, nowMs: number): boolean {
  return (createdAt + retentionSeconds) * 1000 <= nowMs;
}

/** What every store is opened with. */
export interface ResponseStoreOptions extends ResponseStoreLimits {
  /** The clock, in milliseconds (tests move it instead of waiting out the retention). */
  now?: () => number;
}

/**
 * The store cannot be read or written now (Redis unreachable, the disk full): a 503 with
 * Retry-After; the client's message is generic, `reason` goes to the log.
 */
export class ResponseStoreUnavailableError extends DomainError {
  readonly retryAfterMs = 2_000;

  constructor(
    readonly store: ResponseStoreStatus['store'],
    readonly reason: string,
  ) {
    super(`The response store (${store}) is unavailable; try again shortly.`);
  }
}

/**
 * A store in this process's memory, lost on restart: `store = "memory"`, for tests and ephemeral
 * gateways. A Map keeps insertion order, so the oldest response is the first key.
 */
export function createMemoryResponseStore(options: ResponseStoreOptions): ResponseStore {
  const now = options.now ?? Date.now;
  let limits: ResponseStoreLimits = { retentionSeconds: options.retentionSeconds, maxStored: options.maxStored };
  const responses = new Map<string, StoredResponse>();
  const owned = (id: string, owner: string) => {
    const stored = responses.get(id);
    if (stored && hasExpired(stored.createdAt, limits.retentionSeconds, now())) responses.delete(id);
    else if (stored?.owner === owner) return stored;
    return undefined;
  };
  return {
    async save(stored) {
      responses.delete(stored.id);
      responses.set(stored.id, structuredClone(stored));
      for (const id of responses.keys()) {
        if (responses.size <= limits.maxStored) break;
        responses.delete(id);
      }
    },
    load: async (id, owner) => {
      const stored = owned(id, owner);
      return stored && structuredClone(stored);
    },
    delete: async (id, owner) => owned(id, owner) !== undefined && responses.delete(id),
    status: () => ({ store: 'memory', healthy: true }),
    setLimits: (next) => void (limits = { ...next }),
    close: async () => responses.clear(),
  };
}
