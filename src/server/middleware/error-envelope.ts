// The first middleware: every failure below it leaves as the OpenAI error envelope (Anthropic's
// error shape on the Messages API's paths, see src/anthropic/error-body.ts). A 5xx shows
// the client a generic message and the log the whole story. Once headers are sent (a stream),
// the stream writer reports in-band; here it can only be logged.
import type { Middleware } from 'koa';
import { errorBodyFor } from '../../anthropic/error-body.js';
import { toGatewayError } from '../../api/error-mapping.js';
import { errors, GatewayError } from '../../errors.js';
import type { Logger } from '../../logger.js';

/** Errors thrown by koa's own helpers (raw-body, http-errors) carry an HTTP status. */
function fromHttpError(error: {
  status?: number;
  statusCode?: number;
  type?: string;
  limit?: number;
  expose?: boolean;
  message?: string;
}): GatewayError | undefined {
  const status = error.status ?? error.statusCode;
  if (status === undefined || status < 400 || status >= 500) return undefined;
  if (status === 413) return errors.payloadTooLarge(error.limit ?? 0);
  if (error.type === 'request.aborted') return errors.invalidRequest('The request was aborted by the client.');
  if (error.type === 'encoding.unsupported')
    return new GatewayError('Unsupported Content-Encoding.', { status: 415, type: 'invalid_request_error', code: 'unsupported_encoding' });
  return new GatewayError(error.expose && error.message ? error.message : 'Invalid request.', { status, type: 'invalid_request_error' });
}

export function errorEnvelope(logger: Logger): Middleware {
  return async function errorEnvelope(ctx, next) {
    try {
      await next();
    } catch (thrown) {
      const gatewayError =
        thrown instanceof GatewayError ? thrown : (typeof thrown === 'object' && thrown !== null && fromHttpError(thrown as never)) || toGatewayError(thrown);
      if (gatewayError.status >= 500 && gatewayError.type === 'api_error') {
        logger.error({ requestId: ctx.state.requestId, err: thrown, method: ctx.method, path: ctx.path }, 'unexpected error');
      }
      if (ctx.headerSent || !ctx.writable) {
        logger.warn({ requestId: ctx.state.requestId, err: thrown }, 'error after the response started');
        return;
      }
      if (gatewayError.code) ctx.state.access.errorCode = gatewayError.code;
      ctx.status = gatewayError.status;
      for (const [name, value] of Object.entries(gatewayError.headers)) ctx.set(name, value);
      ctx.body = errorBodyFor(ctx.path, gatewayError, ctx.state.requestId);
    }
  };
}
