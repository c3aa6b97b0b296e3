// Finds the model a request names and checks that it can serve the endpoint. A model of another
// type gets a 400 naming its type, so a client learns which endpoint to call instead.
import type { ModelType } from '../engine/contract.js';
import { errors } from '../errors.js';
import type { GatewayState } from '../http/gateway-state.js';
import type { Principal } from '../http/key-ring.js';
import { holdLease, principalOf } from '../http/request-state.js';
import type { Context } from 'koa';
import type { ModelEntry, ModelLease } from '../registry/model-registry.js';

/** Whether a request's key may use a model (no key and no auth: every model). */
export function mayUse(principal: Principal | undefined, entry: ModelEntry): boolean {
  return principal === undefined || principal.mayUse([entry.id, ...entry.config.aliases]);
}

const ENDPOINT_FOR_TYPE: Record<ModelType, string> = {
  chat: '/v1/chat/completions',
  completion: '/v1/completions',
  embedding: '/v1/embeddings',
  rerank: '/v1/rerank',
};

export async function resolveModel(ctx: Context, state: GatewayState, requested: string | undefined, accepted: readonly ModelType[], endpoint: string): Promise<ModelLease> {
  const principal = principalOf(ctx);
  const registry = state.registry();
  let name = requested;
  if (name === undefined) {
    const candidates = registry.list().filter((entry) => accepted.includes(entry.type) && mayUse(principal, entry));
    if (candidates.length !== 1) {
      throw errors.invalidRequest(
        `Missing required parameter: 'model'. It may be omitted only when exactly one model can serve ${endpoint}; configured: ${candidates.map((entry) => entry.id).join(', ') || 'none'}.`,
        'model',
        'missing_required_parameter',
      );
    }
    name = candidates[0].id;
  }
  const entry = registry.find(name);
  if (!entry) throw errors.modelNotFound(name);
  if (!mayUse(principal, entry)) throw errors.permissionDenied(`This API key may not use model '${name}'.`);
  if (!accepted.includes(entry.type)) {
    throw errors.invalidRequest(
      `Model '${entry.id}' is a${entry.type === 'embedding' ? 'n' : ''} ${entry.type} model and cannot serve ${endpoint}; use ${ENDPOINT_FOR_TYPE[entry.type]}.`,
      'model',
      'model_type_mismatch',
    );
  }
  const lease = await registry.acquire(entry.id);
  holdLease(ctx, lease);
  return lease;
}
