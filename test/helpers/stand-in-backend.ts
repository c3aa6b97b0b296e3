// A stand-in engine for tests of the HTTP layer only (status codes, envelopes, registry states).
// End-to-end tests of generation and embeddings use the real engines.
import type { BackendFactory, LoadedModel } from '../../src/engine/contract.js';

export function standInFactory(options: { gate?: Promise<void>; fail?: string } = {}): BackendFactory {
  return async ({ config }) => {
    await options.gate;
    if (options.fail) throw new Error(options.fail);
    const model: LoadedModel = {
      info: { device: 'cpu', contextLength: config.context_length ?? 128, dimensions: config.dimensions },
      parallelism: 1,
      dispose: async () => undefined,
    };
    return model;
  };
}
