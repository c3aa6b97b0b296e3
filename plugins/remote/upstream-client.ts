// Sends one request to the upstreams of a model with failover: the least busy upstream that is
// up is tried first; a failure before the caller says it is too late (no text relayed yet) moves
// on to the next upstream, and a failure of the upstream itself (refused connection, timeout,
// 502/503/504, a stream that ends without a word) marks it down with backoff. The client's own
// mistakes (a 4xx such as 400, 413, 422, answered or in an error frame) are relayed with their
// status and never count against the upstream; a 404 is relayed once no other upstream knows
// the model. A kept-alive connection the upstream closed while idle is not a failure at all: the
// shared client retries it on a fresh connection (src/upstream/openai-client.ts). When no
// upstream is left, the client gets a 503 with Retry-After. The client's AbortSignal cancels the
// upstream request.
import { errors, GatewayError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { UpstreamToolCallError } from './tool-call-deltas.js';
import { networkReason, OpenAIClient, retryAfterOf, UpstreamHttpError, UpstreamStreamError, UpstreamTimeoutError } from '../../src/upstream/openai-client.js';
import type { Upstream, UpstreamPool } from './upstream-pool.js';
import { gatewayErrorFromUpstream } from './upstream-wire.js';

interface Disposition {
  /** Why, for the log and the upstream's last_error. */
  reason: string;
  /** The upstream itself is failing: keep it out for a while. */
  markDown: boolean;
  retryAfterMs?: number;
  /** The client's own mistake: relayed at once, never retried. */
  relay?: GatewayError;
  /** What the client gets if this was the last upstream to try (a 429 stays a 429). */
  relayIfLast?: GatewayError;
  /** What the client gets when it is too late to retry. */
  midResponse?: GatewayError;
}

/** The status an in-band error frame stands for, from its envelope's type. */
const STATUS_OF_ERROR_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  rate_limit_error: 429,
  service_unavailable_error: 503,
};

function httpDisposition(status: number, body: unknown, headers: Headers | undefined, reason: string): Disposition {
  const gatewayError = gatewayErrorFromUpstream(status, body, headers);
  // Another upstream may know the model (a 404) or have room (408, 409, 429); the last one's answer is relayed.
  if (status === 404 || status === 408 || status === 409 || status === 429) return { reason, markDown: false, relayIfLast: gatewayError };
  // The upstream does not take our key: it cannot serve this model.
  if (status === 401 || status === 403) return { reason, markDown: true };
  // The client's own mistake (400, 413, 422, ...): the same on every upstream.
  if (status >= 400 && status < 500) return { reason, markDown: false, relay: gatewayError };
  if (status === 500) return { reason, markDown: false };
  return { reason, markDown: true, retryAfterMs: headers && retryAfterOf(headers) };
}

function dispositionOf(error: unknown): Disposition {
  if (error instanceof UpstreamHttpError) {
    const reason = `${error.status} ${error.message.replace(/^answered \d+: ?/, '')}`.trim();
    return httpDisposition(error.status, error.body, error.headers, reason);
  }
  if (error instanceof UpstreamStreamError) {
    // A stream that ended without a word: the upstream failed.
    if (error.envelope === undefined) return { reason: error.message, markDown: true };
    // An error frame stands for the status its type names (a stream's status line was 200 before it
    // knew): before any text was relayed it is handled like that status; after, the client gets it in-band.
    const type = (error.envelope as { error?: { type?: unknown } }).error?.type;
    const status = (typeof type === 'string' ? STATUS_OF_ERROR_TYPE[type] : undefined) ?? 500;
    const inBand = gatewayErrorFromUpstream(status, error.envelope);
    return { ...httpDisposition(status, error.envelope, undefined, error.message), midResponse: inBand.type === 'api_error' ? undefined : inBand };
  }
  if (error instanceof UpstreamTimeoutError) return { reason: error.message, markDown: true };
  // The upstream answered, but not what the request's tool_choice allows: the same on a retry, and no reason to mark it down.
  if (error instanceof UpstreamToolCallError)
    return {
      reason: error.message,
      markDown: false,
      relay: new GatewayError(`The upstream's reply broke the request's tools: ${error.message.replace(/^the upstream /, 'it ')}.`, {
        status: 502,
        type: 'api_error',
        code: 'upstream_tool_choice_ignored',
      }),
    };
  if (error instanceof TypeError) return { reason: networkReason(error), markDown: true };
  return { reason: error instanceof Error ? error.message : String(error), markDown: false };
}

function abortError(): Error {
  const error = new Error('The client closed the request.');
  error.name = 'AbortError';
  return error;
}

export interface UpstreamClientSettings {
  /** The model's id here, for messages and the log. */
  model: string;
  pool: UpstreamPool;
  apiKey?: string;
  responseTimeoutMs: number;
  logger: Logger;
}

export interface UpstreamCall<T> {
  /** Path under the upstream URL, e.g. "/chat/completions". */
  path: string;
  body: unknown;
  signal?: AbortSignal;
  /** Reads a 2xx response; throws UpstreamStreamError for a stream that failed. */
  read(response: Response, upstream: Upstream): Promise<T>;
  /** False once bytes of this attempt reached the client: a failure can no longer be retried. */
  retryable?(): boolean;
}

export class UpstreamClient {
  private readonly http: OpenAIClient;

  constructor(private readonly settings: UpstreamClientSettings) {
    this.http = new OpenAIClient({
      apiKey: settings.apiKey,
      responseTimeoutMs: settings.responseTimeoutMs,
      // Servers close idle connections (see openai-client.ts): not a failure, so no more than debug.
      onFreshConnectionRetry: (url, reason) => settings.logger.debug({ url, reason }, 'upstream closed a reused connection; retrying on a fresh one'),
    });
  }

  get pool(): UpstreamPool {
    return this.settings.pool;
  }

  /** GETs an upstream's health URL with the key; its status is the caller's to judge. */
  healthCheck(url: string, timeoutMs: number): Promise<Response> {
    return this.http.get(url, timeoutMs);
  }

  /** The 503 a client gets when no upstream is up: upstream addresses stay in the log. */
  unavailable(): GatewayError {
    return errors.unavailable(
      `All upstreams of model '${this.settings.model}' are unavailable; retry shortly.`,
      this.settings.pool.retryAfterMs(),
      'upstream_unavailable',
    );
  }

  /** Throws the 503 now when no upstream is up (before a stream's headers go out). */
  assertAnyUp(): void {
    if (!this.settings.pool.hasUp()) throw this.unavailable();
  }

  async send<T>(call: UpstreamCall<T>): Promise<T> {
    const { pool, logger, model } = this.settings;
    const payload = JSON.stringify(call.body);
    const tried = new Set<Upstream>();
    let relayIfLast: GatewayError | undefined;
    for (;;) {
      const upstream = await pool.acquire(tried, call.signal);
      if (call.signal?.aborted) {
        if (upstream) pool.release(upstream);
        throw abortError();
      }
      if (!upstream) {
        if (relayIfLast) throw relayIfLast;
        throw this.unavailable();
      }
      tried.add(upstream);
      try {
        const result = await this.attempt(upstream, payload, call);
        pool.markUp(upstream);
        return result;
      } catch (error) {
        if (call.signal?.aborted) throw abortError();
        const disposition = dispositionOf(error);
        if (disposition.relay) throw disposition.relay;
        if (disposition.markDown) pool.markDown(upstream, disposition.reason, disposition.retryAfterMs);
        const retryable = call.retryable?.() ?? true;
        logger.warn(
          { upstream: upstream.url, reason: disposition.reason, retry: retryable },
          retryable ? 'upstream request failed; trying the next upstream' : 'upstream failed mid-response',
        );
        if (!retryable)
          throw (
            disposition.midResponse ?? errors.unavailable(`The upstream of model '${model}' failed mid-response; retry the request.`, 1_000, 'upstream_failed')
          );
        relayIfLast = disposition.relayIfLast;
      } finally {
        pool.release(upstream);
      }
    }
  }

  private async attempt<T>(upstream: Upstream, payload: string, call: UpstreamCall<T>): Promise<T> {
    const response = await this.http.post(upstream.url, call.path, payload, call.signal);
    return call.read(response, upstream);
  }
}
