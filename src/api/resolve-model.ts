// The HTTP side of resolving a model: the request's key decides what it may use, and the lease is
// given back when the response is over (holdLease). Which model, and what it may serve, is the
// model-call API's business (findModel).
import type { Context } from 'koa';
import type { ModelType } from '../engine/contract.js';
import { handleOf, leaseModel, type ModelHandle } from '../model-call/model-calls.js';
import type { ModelEntry, ModelLease } from '../registry/model-registry.js';
import type { GatewayState } from '../http/gateway-state.js';
import type { Principal } from '../http/key-ring.js';
import { holdLease, principalOf } from '../http/request-state.js';

/** Whether a request's key may use a model (no key and no auth: every model). */
export function mayUse(principal: Principal | undefined, entry: ModelEntry): boolean {
  return principal === undefined || principal.mayUse([entry.id, ...entry.config.aliases]);
}

/** Leases the model a request names; the lease is released when the response is over. */
export async function resolveModel(ctx: Context, state: GatewayState, requested: string | undefined, accepted: readonly ModelType[], endpoint: string): Promise<ModelLease> {
  const principal = principalOf(ctx);
  const lease = await leaseModel(state.registry(), { name: requested, accepted, endpoint, permits: principal && ((names) => principal.mayUse(names)) });
  holdLease(ctx, lease);
  return lease;
}

/** The handle of the model a request names; its lease is released when the response is over. */
export async function openModelFor(ctx: Context, state: GatewayState, requested: string | undefined, accepted: readonly ModelType[], endpoint: string): Promise<ModelHandle> {
  return handleOf(await resolveModel(ctx, state, requested, accepted, endpoint));
}
