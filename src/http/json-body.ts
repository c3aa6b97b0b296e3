// Reads a JSON object body with a size limit. Only application/json is accepted (415 otherwise);
// __proto__ and constructor.prototype keys are dropped so they never reach an object's prototype.
import type { Middleware } from 'koa';
import getRawBody from 'raw-body';
import secureJson from 'secure-json-parse';
import { errors } from '../errors.js';

export function jsonBody(limitBytes: () => number): Middleware {
  return async function jsonBody(ctx, next) {
    const contentType = ctx.get('content-type');
    if (!ctx.is('application/json', 'application/*+json')) throw errors.unsupportedMediaType(contentType);
    const limit = limitBytes();
    const text = await getRawBody(ctx.req, { limit, length: ctx.get('content-length') || undefined, encoding: 'utf8' }).catch((error: { type?: string }) => {
      if (error.type === 'entity.too.large') throw errors.payloadTooLarge(limit);
      throw error;
    });
    let parsed: unknown;
    try {
      parsed = secureJson.parse(text, undefined, { protoAction: 'remove', constructorAction: 'remove' });
    } catch (error) {
      throw errors.invalidRequest(
        `We could not parse the JSON body of your request: ${(error as Error).message}. Send valid JSON with Content-Type application/json.`,
        null,
        'invalid_json',
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw errors.invalidRequest('The request body must be a JSON object.', null, 'invalid_json');
    }
    ctx.request.body = parsed;
    await next();
  };
}

declare module 'koa' {
  interface Request {
    body?: unknown;
  }
}
