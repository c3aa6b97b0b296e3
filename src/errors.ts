// The one error family. Code anywhere throws a GatewayError; the error middleware alone turns it
// into the OpenAI envelope {"error": {message, type, param, code}} with its status and headers.

export type ErrorType =
  'invalid_request_error' | 'authentication_error' | 'permission_error' | 'not_found_error' | 'rate_limit_error' | 'service_unavailable_error' | 'api_error';

export interface GatewayErrorOptions {
  status: number;
  type: ErrorType;
  code?: string | null;
  param?: string | null;
  /** Extra response headers, e.g. Retry-After. */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly code: string | null;
  readonly param: string | null;
  readonly headers: Record<string, string>;

  constructor(message: string, options: GatewayErrorOptions) {
    super(message, { cause: options.cause });
    this.name = 'GatewayError';
    this.status = options.status;
    this.type = options.type;
    this.code = options.code ?? null;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }

  toJSON(): { error: { message: string; type: ErrorType; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** Retry-After in whole seconds (what every client reads) and retry-after-ms (what OpenAI SDKs prefer). */
export function retryHeaders(retryAfterMs: number): Record<string, string> {
  const milliseconds = Math.max(1, Math.ceil(retryAfterMs));
  return { 'retry-after': String(Math.max(1, Math.ceil(milliseconds / 1000))), 'retry-after-ms': String(milliseconds) };
}

export const errors = {
  invalidRequest: (message: string, param?: string | null, code?: string | null) =>
    new GatewayError(message, { status: 400, type: 'invalid_request_error', param, code }),
  invalidApiKey: (message = 'Incorrect API key provided. Send it as "Authorization: Bearer <key>" or "X-API-Key: <key>".') =>
    new GatewayError(message, { status: 401, type: 'authentication_error', code: 'invalid_api_key' }),
  permissionDenied: (message: string) => new GatewayError(message, { status: 403, type: 'permission_error', code: 'permission_denied' }),
  modelNotFound: (model: string) =>
    new GatewayError(`The model '${model}' does not exist or you do not have access to it.`, {
      status: 404,
      type: 'not_found_error',
      param: 'model',
      code: 'model_not_found',
    }),
  routeNotFound: (method: string, path: string) =>
    new GatewayError(`Unknown request URL: ${method} ${path}. Please check the URL and method.`, { status: 404, type: 'not_found_error', code: 'unknown_url' }),
  methodNotAllowed: (method: string, path: string, allowed: string[]) =>
    new GatewayError(`Method ${method} is not allowed for ${path}; allowed: ${allowed.join(', ')}.`, {
      status: 405,
      type: 'invalid_request_error',
      code: 'method_not_allowed',
      headers: { allow: allowed.join(', ') },
    }),
  payloadTooLarge: (limitBytes: number) =>
    new GatewayError(`Request body is larger than the limit of ${limitBytes} bytes.`, {
      status: 413,
      type: 'invalid_request_error',
      code: 'request_too_large',
    }),
  unsupportedMediaType: (found: string) =>
    new GatewayError(`Expected Content-Type application/json, found ${found === '' ? 'none' : found}.`, {
      status: 415,
      type: 'invalid_request_error',
      code: 'unsupported_media_type',
    }),
  rateLimited: (message: string, retryAfterMs: number, code = 'rate_limit_exceeded', extraHeaders: Record<string, string> = {}) =>
    new GatewayError(message, { status: 429, type: 'rate_limit_error', code, headers: { ...retryHeaders(retryAfterMs), ...extraHeaders } }),
  unavailable: (message: string, retryAfterMs: number, code = 'service_unavailable') =>
    new GatewayError(message, { status: 503, type: 'service_unavailable_error', code, headers: retryHeaders(retryAfterMs) }),
  /**
   * 504: the request may well be fine and the model busy, but a retry of a request that is itself
   * slow (a costly grammar) would hold the model as long again, so OpenAI SDKs are told not to retry.
   */
  generationTimeout: (message: string) =>
    new GatewayError(message, { status: 504, type: 'service_unavailable_error', code: 'generation_timeout', headers: { 'x-should-retry': 'false' } }),
  internal: (cause?: unknown) =>
    new GatewayError('The server had an error while processing your request. The request id in x-request-id identifies it in the log.', {
      status: 500,
      type: 'api_error',
      code: 'internal_error',
      cause,
    }),
};
