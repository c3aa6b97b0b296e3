// Runs the plugins' request hooks around one OpenAI route: `beforeRequest` once the body is
// parsed (it may reject or rewrite it), `onStreamChunk` on each SSE frame through the stream
// writer's transform, `afterResponse` when the handler is done. Mounted per route, after the
// JSON body parser and before the handler.
import type { Context, Middleware } from 'koa';
import { errorBodyFor } from '../anthropic/error-body.js';
import { toGatewayError } from '../api/error-mapping.js';
import type { Usage } from '../openai/generation-wire.js';
import { clientAbortSignal } from '../http/client-abort.js';
import type { SseTransform } from '../http/request-state.js';
import type { PluginEndpoint, PluginRequest, PluginResponse, StreamChunk } from './plugin-api.js';
import type { PluginHost } from './plugin-host.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pluginRequestOf(ctx: Context, endpoint: PluginEndpoint, host: PluginHost): PluginRequest {
  const request = {
    id: ctx.state.requestId,
    endpoint,
    method: ctx.method,
    path: ctx.path,
    keyName: ctx.state.principal?.name,
    headers: ctx.headers,
    body: ctx.request.body as Record<string, unknown>,
    startedAt: new Date(),
    signal: clientAbortSignal(ctx),
    logger: host.logger.child({ requestId: ctx.state.requestId }),
  };
  return request;
}

export function pluginRequestHooks(host: PluginHost | undefined, endpoint: PluginEndpoint): Middleware {
  const registered = host?.hooks ?? [];
  const before = registered.filter((entry) => entry.hooks.beforeRequest);
  const chunkHooks = registered.filter((entry) => entry.hooks.onStreamChunk);
  const after = registered.filter((entry) => entry.hooks.afterResponse);
  if (registered.length === 0) {
    return async function pluginRequestHooks(_ctx, next) {
      await next();
    };
  }
  return async function pluginRequestHooks(ctx, next) {
    const started = performance.now();
    const request = pluginRequestOf(ctx, endpoint, host!) as { -readonly [K in keyof PluginRequest]: PluginRequest[K] };
    let thrown: unknown;
    let failed = false;
    try {
      for (const { hooks } of before) {
        const rewritten = await hooks.beforeRequest!(request);
        if (rewritten === undefined || rewritten === null) continue;
        if (!isObject(rewritten)) throw new TypeError('a beforeRequest hook returned something other than an object');
        request.body = rewritten;
        ctx.request.body = rewritten;
      }
      if (chunkHooks.length > 0) {
        const transform: SseTransform = (payload) => {
          let chunk = payload;
          for (const { plugin, hooks, logger } of chunkHooks) {
            if (!isObject(chunk)) return chunk;
            try {
              const replaced = hooks.onStreamChunk!(chunk as StreamChunk, request);
              if (replaced === null) return undefined;
              if (replaced !== undefined) chunk = replaced;
            } catch (error) {
              logger.warn({ plugin, requestId: request.id, err: error }, 'onStreamChunk hook failed; the frame is sent unchanged');
            }
          }
          return chunk;
        };
        ctx.state.sseTransform = transform;
      }
      await next();
    } catch (error) {
      thrown = error;
      failed = true;
    }
    if (after.length > 0) {
      const gatewayError = failed ? toGatewayError(thrown) : undefined;
      const streamed = ctx.respond === false;
      let body: unknown = gatewayError ? errorBodyFor(ctx.path, gatewayError, ctx.state.requestId) : streamed ? undefined : ctx.body;
      const response: PluginResponse = {
        status: gatewayError ? gatewayError.status : streamed ? ctx.res.statusCode : ctx.status,
        streamed,
        body,
        usage: ctx.state.usage,
        model: ctx.state.access.model,
        error: gatewayError?.toJSON().error,
        durationMs: performance.now() - started,
        clientClosed: ctx.res.destroyed && !ctx.res.writableEnded,
      };
      for (const { plugin, hooks, logger } of after) {
        try {
          const replaced = await hooks.afterResponse!({ ...response, body }, request);
          if (!failed && !streamed && isObject(replaced)) body = replaced;
        } catch (error) {
          logger.warn({ plugin, requestId: request.id, err: error }, 'afterResponse hook failed');
        }
      }
      if (!failed && !streamed && body !== ctx.body) ctx.body = body;
    }
    if (failed) throw thrown;
  };
}
