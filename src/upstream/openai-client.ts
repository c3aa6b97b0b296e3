// One HTTP request to an OpenAI-compatible server (another switchyard, vLLM, a llama.cpp server):
// a JSON POST with the server's key, a limit on the wait for the response headers, and the
// failures told apart by kind so that a caller can decide what to retry. Choosing among several
// servers and turning their answers into the gateway's errors is the caller's business.
//
// A kept-alive connection the server closed while it was idle is retried here, once, on a fresh
// connection. Servers close idle connections on their own schedule (llama-server does, without
// saying when), and a request sent as the close is under way fails before any byte of its
// response ("other side closed", or a reset). That says nothing about the server's health, so
// callers never see it unless the fresh connection fails too. Why a retry is safe:
// - No byte of the response arrived, so nothing of this attempt reached anyone: the retry is
//   invisible to the caller's client.
// - On a connection closed while idle, the server never read the request. In the rarer case
//   where it read it and then dropped the connection, the work it started goes with the
//   connection (llama-server cancels a task whose connection closed), and these requests
//   (generations, embeddings, scores) change nothing on the server beyond its prompt cache: a
//   replay costs compute at worst. A hosted API may bill both; the official OpenAI SDKs retry
//   connection errors the same way.
// - Once only, and on a new connection: a server that drops fresh connections too is failing,
//   and that second failure is reported as one. A request that crashed its server is replayed at
//   most once, and a crashed server's port usually refuses the retry outright.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { fetchOnFreshConnection, type FreshRequest } from './fresh-connection.js';
import { headersOf, requestOverNodeHttp } from './node-http-request.js';

/** A non-2xx answer: its status, its body (parsed JSON, or the text when it is not JSON) and headers. */
export class UpstreamHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Headers,
  ) {
    super(
      `answered ${status}${typeof (body as { error?: { message?: unknown } })?.error?.message === 'string' ? `: ${(body as { error: { message: string } }).error.message}` : ''}`,
    );
    this.name = 'UpstreamHttpError';
  }
}

/** A stream that failed after its headers: an in-band error frame, or an end without [DONE]. */
export class UpstreamStreamError extends Error {
  constructor(
    message: string,
    readonly envelope?: unknown,
  ) {
    super(message);
    this.name = 'UpstreamStreamError';
  }
}

/** No response headers within the response timeout. */
export class UpstreamTimeoutError extends Error {
  constructor(seconds: number) {
    super(`no response headers within ${seconds} s`);
    this.name = 'UpstreamTimeoutError';
  }
}

/** The wait a server asked for (`retry-after-ms`, else `retry-after` in seconds), in milliseconds. */
export function retryAfterOf(headers: Headers): number | undefined {
  const milliseconds = Number(headers.get('retry-after-ms'));
  if (Number.isFinite(milliseconds) && milliseconds > 0) return milliseconds;
  const seconds = Number(headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

/**
 * Whether fetch failed because the server closed or reset a kept-alive connection before any byte
 * of the response. undici reports a close ("other side closed", UND_ERR_SOCKET) with the
 * socket's byte counts: bytes read before this response means the connection had served earlier
 * requests; a fresh connection closed at once is the server failing. A reset (ECONNRESET, EPIPE)
 * comes without counts and is taken for one on a reused connection: the retry tells.
 */
export function isClosedReusedConnection(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false;
  const cause = (error as { cause?: { code?: unknown; socket?: { bytesRead?: unknown } } }).cause;
  if (cause?.code === 'UND_ERR_SOCKET') return typeof cause.socket?.bytesRead !== 'number' || cause.socket.bytesRead > 0;
  return cause?.code === 'ECONNRESET' || cause?.code === 'EPIPE';
}

/** Why a connection failed (`ECONNREFUSED`, ...), from the cause fetch wraps it in. */
export function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

export interface OpenAIClientSettings {
  /** Sent as "Authorization: Bearer ...". */
  apiKey?: string;
  /** How long a request may wait for its response headers (a stream's headers come when its run starts). */
  responseTimeoutMs: number;
  /** Told when a request is retried on a fresh connection (see isClosedReusedConnection), for the log. */
  onFreshConnectionRetry?: (url: string, reason: string) => void;
}

/** A non-2xx answer's body: parsed JSON, or the text when it is not JSON. */
function errorBodyOf(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Sends requests to OpenAI-compatible servers. fetch keeps connections alive between requests,
 * and so does openStream's agent: a caller that reads each body to its end reuses them.
 */
export class OpenAIClient {
  private readonly headers: Record<string, string>;
  /** openStream's kept-alive connections, one agent per protocol. */
  private readonly streamAgents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  constructor(private readonly settings: OpenAIClientSettings) {
    this.headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...this.authorization };
  }

  /** The authorization header alone, for GETs such as health checks. */
  get authorization(): Record<string, string> {
    return this.settings.apiKey ? { authorization: `Bearer ${this.settings.apiKey}` } : {};
  }

  /**
   * POSTs `payload` (JSON text) to `baseUrl` + `path` and resolves with a 2xx response whose body
   * is the caller's to read. Throws UpstreamHttpError for another status, UpstreamTimeoutError when
   * the headers are late, fetch's TypeError when the server cannot be reached, and the signal's
   * reason when the caller aborts.
   */
  async post(baseUrl: string, path: string, payload: string, signal?: AbortSignal): Promise<Response> {
    const response = await this.request(`${baseUrl}${path}`, { method: 'POST', headers: this.headers, body: payload }, this.settings.responseTimeoutMs, signal);
    if (!response.ok) throw new UpstreamHttpError(response.status, errorBodyOf(await response.text().catch(() => '')), response.headers);
    return response;
  }

  /**
   * POSTs as post() does, with the same failures, and resolves with the 2xx response as node's
   * IncomingMessage: for a stream read chunk by chunk, one chunk per generated token, node:http
   * costs about half the CPU per chunk of fetch's web stream, and a gateway whose engine shares
   * its cores pays that per token. Aborting `signal` closes the connection, the body with it.
   */
  async openStream(baseUrl: string, path: string, payload: string, signal: AbortSignal): Promise<IncomingMessage> {
    const url = `${baseUrl}${path}`;
    const request: FreshRequest = { method: 'POST', headers: this.headers, body: payload };
    const agent = url.startsWith('https:') ? this.streamAgents.https : this.streamAgents.http;
    const incoming = await this.attempt(url, this.settings.responseTimeoutMs, signal, (attemptSignal, fresh) =>
      requestOverNodeHttp(url, request, attemptSignal, fresh ? false : agent),
    );
    const status = incoming.statusCode ?? 502;
    if (status >= 200 && status < 300) return incoming;
    let text = '';
    try {
      incoming.setEncoding('utf8');
      for await (const piece of incoming) text += piece as string;
    } catch {
      // the status says enough
    }
    throw new UpstreamHttpError(status, errorBodyOf(text), headersOf(incoming));
  }

  /** GETs `url` (a health check) with the key, whatever its status; the same failures as post(). */
  get(url: string, timeoutMs: number, signal?: AbortSignal): Promise<Response> {
    return this.request(url, { method: 'GET', headers: this.authorization }, timeoutMs, signal);
  }

  private request(url: string, request: FreshRequest, timeoutMs: number, signal?: AbortSignal): Promise<Response> {
    return this.attempt(url, timeoutMs, signal, (attemptSignal, fresh) =>
      fresh ? fetchOnFreshConnection(url, request, attemptSignal) : fetch(url, { ...request, signal: attemptSignal }),
    );
  }

  /**
   * `send` once on a kept-alive connection, and once more on a fresh one (`fresh`) when the first
   * failed as a closed reused connection (see the top of this file); both within `timeoutMs` for
   * the response headers.
   */
  private async attempt<T>(
    url: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    send: (signal: AbortSignal, fresh: boolean) => Promise<T>,
  ): Promise<T> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new UpstreamTimeoutError(timeoutMs / 1000)), timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
    try {
      try {
        return await send(combined, false);
      } catch (error) {
        if (combined.aborted || !isClosedReusedConnection(error)) throw error;
        this.settings.onFreshConnectionRetry?.(url, networkReason(error));
        return await send(combined, true);
      }
    } catch (error) {
      if (timeout.signal.aborted && !signal?.aborted) throw timeout.signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}
