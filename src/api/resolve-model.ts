// Finds the model a request names and checks that it can serve the endpoint. A model of another
// type gets a 400 naming its type, so a client learns which endpoint to call instead.
import type { ModelType } from '../engine/contract.js';
import type { GatewayState } from '../server/gateway-state.js';
import { principalOf, type Principal } from '../server/middleware/auth.js';
import type { Context } from 'koa';
import { holdLease } from '../server/middleware/model-leases.js';
import type { ModelEntry, ModelLease } from '../registry/model-registry.js';
import { ModelNotFoundError, ModelNotNamedError, ModelNotPermittedError, ModelTypeMismatchError } from '../registry/model-errors.js';

/** Whether a request's key may use a model (no key and no auth: every model). */
export function mayUse(principal: Principal | undefined, entry: ModelEntry): boolean {
  return principal === undefined || principal.mayUse([entry.id, ...entry.config.aliases]);
}

export async function resolveModel(ctx: Context, state: GatewayState, requested: string | undefined, accepted: readonly ModelType[], endpoint: string): Promise<ModelLease> {
  const principal = principalOf(ctx);
  const registry = state.registry();
  let name = requested;
  if (name === undefined) {
    const candidates = registry.list().filter((entry) => accepted.includes(entry.type) && mayUse(principal, entry));
    if (candidates.length !== 1) throw new ModelNotNamedError(endpoint, candidates.map((entry) => entry.id));
    name = candidates[0].id;
  }
  const entry = registry.find(name);
  if (!entry) throw new ModelNotFoundError(name);
  if (!mayUse(principal, entry)) throw new ModelNotPermittedError(name);
  if (!accepted.includes(entry.type)) throw new ModelTypeMismatchError(entry.id, entry.type, endpoint);
  const lease = await registry.acquire(entry.id);
  holdLease(ctx, lease);
  return lease;
}
