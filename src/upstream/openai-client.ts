// One HTTP request to an OpenAI-compatible server (another switchyard, vLLM, a llama.cpp server):
// a JSON POST with the server's key, a limit on the wait for the response headers, and the
// failures told apart by kind so that a caller can decide what to retry. Choosing among several
// servers and turning their answers into the gateway's errors is the caller's business.

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
}

/**
 * Sends requests to OpenAI-compatible servers. fetch keeps connections alive between requests,
 * so a caller that reads each body to its end reuses them.
 */
export class OpenAIClient {
  private readonly headers: Record<string, string>;

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
    const timeout = new AbortController();
    const seconds = this.settings.responseTimeoutMs / 1000;
    const timer = setTimeout(() => timeout.abort(new UpstreamTimeoutError(seconds)), this.settings.responseTimeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
    let response: Response;
    try {
      response = await fetch(`${baseUrl}${path}`, { method: 'POST', headers: this.headers, body: payload, signal: combined });
    } catch (error) {
      if (timeout.signal.aborted && !signal?.aborted) throw timeout.signal.reason;
      throw error;
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: the text is the message
      }
      throw new UpstreamHttpError(response.status, body, response.headers);
    }
    return response;
  }
}
