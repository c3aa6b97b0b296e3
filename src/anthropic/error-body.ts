// Anthropic's error shape, and the one place that decides which paths speak it: every failure on
// those paths — the route's own, and those thrown before it runs (401 from auth, 429 from the rate
// limits, 413 from the body parser) — leaves as {"type": "error", "error": {type, message}}, with the
// same status and headers (Retry-After) as on the OpenAI routes.
import type { GatewayError } from '../errors.js';

/** The Anthropic Messages API's paths. */
export function speaksAnthropic(path: string): boolean {
  return path === '/v1/messages' || path.startsWith('/v1/messages/');
}

/**
 * Anthropic's error type for a status (their documented table). A 503 (queue wait timed out, model
 * loading) is `overloaded_error`, what Anthropic answers when it has no capacity: its SDK retries it
 * as it retries every 5xx. A 504 is `timeout_error`; its x-should-retry: false still holds.
 */
function errorTypeOf(error: GatewayError): string {
  const { status } = error;
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 413) return 'request_too_large';
  if (status === 429) return 'rate_limit_error';
  if (status === 503) return 'overloaded_error';
  if (status === 504) return 'timeout_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id?: string;
}

/**
 * The message, naming the field: Anthropic's body has no `param`, so a field the message does not
 * already name (an image that would not decode, an engine's refusal) is appended to it.
 */
function messageOf(error: GatewayError): string {
  const { message, param } = error;
  return param === null || message.includes(param) ? message : `${message} (${param})`;
}

export function anthropicErrorBody(error: GatewayError, requestId?: string): AnthropicErrorBody {
  return { type: 'error', error: { type: errorTypeOf(error), message: messageOf(error) }, ...(requestId !== undefined ? { request_id: requestId } : {}) };
}

/** The body of a failure on `path`: Anthropic's shape on its paths, OpenAI's envelope elsewhere. */
export function errorBodyFor(path: string, error: GatewayError, requestId?: string): unknown {
  return speaksAnthropic(path) ? anthropicErrorBody(error, requestId) : error.toJSON();
}
