// The contract between switchyard and its plugins, for plugin authors. A plugin is a module whose
// default export (or the module itself) is `{ name, optionsSchema?, setup(context) }`. `setup`
// runs once when the gateway starts, after the plugin's [plugins.NAME] options were validated by
// its own schema, and registers what the plugin adds: backends, request hooks, routes.
//
// Everything a plugin needs at run time comes through the context (the logger, the error
// factories, GatewayError): a plugin loaded from a path outside this package then throws the
// very GatewayError class the error middleware recognises.
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { z } from 'zod';
import type { BackendDescriptor, BackendDescriptorLoadContext } from '../engine/backend-descriptor.js';
import type { errors, GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Usage } from '../openai/generation-wire.js';

/** The endpoints request hooks see (`/rerank` is reported as `/v1/rerank`): OpenAI's, and Anthropic's Messages API. */
export type PluginEndpoint =
  '/v1/chat/completions' | '/v1/responses' | '/v1/completions' | '/v1/embeddings' | '/v1/rerank' | '/v1/messages' | '/v1/messages/count_tokens';

/** One request as hooks see it. The same object is passed to every hook of that request. */
export interface PluginRequest {
  /** The request id (x-request-id), as in the access log. */
  readonly id: string;
  readonly endpoint: PluginEndpoint;
  readonly method: string;
  readonly path: string;
  /** The name of the API key that authenticated the request; undefined without auth. */
  readonly keyName: string | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The parsed JSON body; `beforeRequest` hooks may return a rewritten one, which replaces it. */
  readonly body: Record<string, unknown>;
  readonly startedAt: Date;
  /** Aborted when the client leaves or the server's shutdown grace period ends. */
  readonly signal: AbortSignal;
  /** The gateway's logger, bound to the request id and the plugin. */
  readonly logger: Logger;
}

/** How a request ended, as `afterResponse` sees it. */
export interface PluginResponse {
  /** The HTTP status sent (or about to be sent, for a non-streamed body). */
  readonly status: number;
  readonly streamed: boolean;
  /** The JSON body of a non-streamed response, or the error envelope; undefined for a stream. */
  readonly body: unknown;
  /** Token usage charged for the request (exact, or the prompt's estimate when it failed). */
  readonly usage: Usage | undefined;
  /** The id of the model that served the request, once it was resolved. */
  readonly model: string | undefined;
  readonly error: { message: string; type: string; code: string | null; param: string | null } | undefined;
  readonly durationMs: number;
  /** True when the client left before the response was complete. */
  readonly clientClosed: boolean;
}

/** A JSON payload of one SSE frame (a chunk object, or `{"error": ...}`). */
export type StreamChunk = Record<string, unknown>;

export interface RequestHooks {
  /**
   * Runs after authentication, rate limiting and body parsing, before the body is validated and
   * reaches a model. Throw a GatewayError (`context.errors.permissionDenied(...)`) to reject the
   * request with that status; return an object to replace the body; return nothing to let it be.
   */
  beforeRequest?(request: PluginRequest): Record<string, unknown> | void | Promise<Record<string, unknown> | void>;
  /**
   * Sees every SSE frame of a streamed response before it is written, synchronously, in order.
   * Return a new object to send instead, `null` to drop the frame, nothing to send it unchanged.
   * A hook that throws is logged and its frame is sent unchanged.
   */
  onStreamChunk?(chunk: StreamChunk, request: PluginRequest): StreamChunk | null | void;
  /**
   * Runs once per request when its handler is done: before a non-streamed body is written, after
   * a stream has ended, and after a rejection. For a successful non-streamed response, a
   * returned object replaces the body; otherwise the return value is ignored. Errors are logged.
   * Keep it fast: a non-streamed response waits for it.
   */
  afterResponse?(response: PluginResponse, request: PluginRequest): unknown;
}

/** What `load` receives: the registry's load context plus the model's own keys, parsed. */
export type PluginBackendLoadContext<ModelOptions> = BackendDescriptorLoadContext<ModelOptions>;

/**
 * A backend: what `backend = "NAME"` in [api.models.ID] loads. The same descriptor the built-in
 * backends have (src/backends/index.ts): its name must not be a built-in one (llama, onnx) or
 * another plugin's; `modelOptionsSchema`'s keys are allowed only on its models and validated at
 * config load, so their errors name the file, line and key like any other, and must not reuse a
 * key of the built-in model schema; `requiresPath` defaults to false; a `claimsPath` makes it the
 * backend of models that name none and whose path it claims (asked before the built-in backends).
 */
export type PluginBackend<Schema extends z.ZodObject = z.ZodObject> = BackendDescriptor<Schema>;

export interface PluginContext<Options = unknown> {
  /** The plugin's key in the config ([plugins.NAME]). */
  readonly name: string;
  /** The plugin's options, parsed by its `optionsSchema` (the table less `path`). */
  readonly options: Options;
  /** The gateway's logger, bound to the plugin's name. */
  readonly logger: Logger;
  /** The config file's folder: resolve relative paths in options against it. */
  readonly configDirectory: string;
  /** OpenAI-shaped errors to throw from hooks and routes. */
  readonly errors: typeof errors;
  readonly GatewayError: typeof GatewayError;
  registerBackend<Schema extends z.ZodObject>(backend: PluginBackend<Schema>): void;
  addHooks(hooks: RequestHooks): void;
  /** Mounted after authentication and rate limits, beside the OpenAI routes. */
  addRoutes(router: Router): void;
  /** A middleware that parses a JSON body (with the gateway's size limit) into `ctx.request.body`. */
  jsonBody(): Middleware;
  /** Runs at shutdown, plugins in reverse order: flush files, stop timers. */
  onClose(close: () => void | Promise<void>): void;
}

export interface SwitchyardPlugin<Options = unknown> {
  readonly name: string;
  /**
   * A zod 4 schema of the plugin's options (the [plugins.NAME] table less `path`). Use a strict
   * object so that a typo is an error. Absent: the plugin takes no options.
   */
  readonly optionsSchema?: z.ZodType<Options>;
  setup(context: PluginContext<Options>): void | Promise<void>;
}

/** Identity function that lets TypeScript infer `Options` from `optionsSchema`. */
export function definePlugin<Options>(plugin: SwitchyardPlugin<Options>): SwitchyardPlugin<Options> {
  return plugin;
}
