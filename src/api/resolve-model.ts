// The HTTP side of resolving a model: the request's key decides what it may use, and the lease is
// given back when the response is over (holdLease). Which model, and what it may serve, is the
// model-call API's business (findModel).
import type { Context } from 'koa';
import type { ModelType } from '../engine/contract.js';
import { openModel, type ModelEntry, type ModelHandle } from '../model-call/model-calls.js';
import type { GatewayState } from '../http/gateway-state.js';
import type { Principal } from '../http/key-ring.js';
import { holdLease, principalOf } from '../http/request-state.js';

/** Whether a request's key may use a model (no key and no auth: every model). */
export function mayUse(principal: Principal | undefined, entry: ModelEntry): boolean {
  return principal === undefined || principal.mayUse([entry.id, ...entry.config.aliases]);
}

/** The handle of the model a request names; its lease is given back when the response is over. */
export async function openModelFor(
  ctx: Context,
  state: GatewayState,
  requested: string | undefined,
  accepted: readonly ModelType[],
  endpoint: string,
): Promise<ModelHandle> {
  const principal = principalOf(ctx);
  const model = await openModel(state.registry(), { name: requested, accepted, endpoint, permits: principal && ((names) => principal.mayUse(names)) });
  holdLease(ctx, model);
  return model;
}
