// The HTTP side of resolving a model: the request's key decides what it may use, and the lease is
// given back when the response is over (holdLease). Which model, and what it may serve, is the
// model-call API's business (findModel).
import type { Context } from 'koa';
import type { ModelType } from '../engine/contract.js';
import { openModel, type ModelHandle, type ModelPermission } from '../model-call/model-calls.js';
import type { GatewayState } from '../http/gateway-state.js';
import { holdLease, principalOf } from '../http/request-state.js';

/** What a request's key may use, as the model-call API takes it (no key and no auth: every model). */
export function permissionOf(ctx: Context): ModelPermission {
  const principal = principalOf(ctx);
  return principal && ((names) => principal.mayUse(names));
}

/** The handle of the model a request names; its lease is given back when the response is over. */
export async function openModelFor(
  ctx: Context,
  state: GatewayState,
  requested: string | undefined,
  accepted: readonly ModelType[],
  endpoint: string,
): Promise<ModelHandle> {
  const model = await openModel(state.registry(), { name: requested, accepted, endpoint, permits: permissionOf(ctx) });
  holdLease(ctx, model);
  return model;
}
