// The typed per-request context: what the middleware, the routes and the plugin hooks of one
// request share through ctx.state. Declared once, here, as koa's DefaultState, so that whoever
// writes a key and whoever reads it agree on its type, and nobody reads one back with a cast.
// The first middleware (src/server/middleware/request-state.ts) creates the keys every request
// has; the others are filled in on the way.
import type { Context } from 'koa';
import type { TokenBudget } from '../limits/token-budget.js';
import type { Usage } from '../openai/generation-wire.js';
import type { Principal } from './key-ring.js';

/** What a request's access line and metrics report; routes add what they learn. */
export interface AccessDetails {
  /** The configured id of the model that served (a metric label: never the client's own string). */
  model?: string;
  promptTokens?: number;
  completionTokens?: number;
  queueWaitMs?: number;
  timeToFirstTokenMs?: number;
  stream?: boolean;
  /** The error code of a failed request (e.g. queue_full, rate_limit_exceeded). */
  errorCode?: string;
}

/** Something a request holds until its handler is done, such as a model lease. */
export interface Lease {
  release(): void;
}

/** Applied by the SSE writer to each frame (plugins' onStreamChunk hooks): undefined drops it. */
export type SseTransform = (payload: unknown) => unknown;

export interface RequestState {
  /** Echoed as x-request-id; on every log line about the request. */
  requestId: string;
  /** performance.now() when the request arrived. */
  startedAt: number;
  access: AccessDetails;
  /** Given back when the handler is done (src/server/middleware/model-leases.ts). */
  leases: Lease[];
  /** Aborted when the shutdown grace period is over. */
  shutdownSignal: AbortSignal;
  /** The owner of the key the request presented, once authenticated; none without a key. */
  principal?: Principal;
  /** Tokens the request used, set by its route: the token budget is settled with it, plugins see it. */
  usage?: Usage;
  /** What the route reserves tokens from (set by the rate-limit middleware). */
  tokenBudget?: TokenBudget;
  /** Made on first use by clientAbortSignal (src/http/client-abort.ts). */
  abortSignal?: AbortSignal;
  sseTransform?: SseTransform;
}

declare module 'koa' {
  // Koa's documented way to type ctx.state for every context of the app.
  interface DefaultState extends RequestState {}
}

/** The principal of a request, if it presented a valid key. */
export function principalOf(ctx: Context): Principal | undefined {
  return ctx.state.principal;
}

export function tokenBudgetOf(ctx: Context): TokenBudget | undefined {
  return ctx.state.tokenBudget;
}

/** Keeps a model lease until the request's handler is done (a stream's, once the stream has ended). */
export function holdLease(ctx: Context, lease: Lease): void {
  ctx.state.leases.push(lease);
}
