// A .gguf chat or completion model that names no backend runs on llama-server (src/backends/index.ts).
// Where no llama-server binary was built (its build failed, or was skipped) or named, such a model runs
// on the in-process engine instead, so that a config that never chose an engine keeps serving:
// the gateway says so in its log at every load, and /v1/models names the engine. A model that
// names `backend = "llama-server"`, or uses a key only that engine has, gets no such fallback:
// the config check reports the missing binary for it.
import { llamaModelOptionsSchema } from '../backends/llama/options.js';
import { locateLlamaServer } from '../backends/llama-server/binary.js';
import { llamaServerModelOptionsSchema } from '../backends/llama-server/options.js';
import type { Config, ModelConfig } from './schema.js';

/** Something about a valid config that an operator should read at every load. */
export interface ConfigNotice {
  model: string;
  message: string;
}

/** The keys llama-server models have and in-process ones lack (mmproj, draft_model, pooling, extra_args). */
const SERVER_ONLY_KEYS = Object.keys(llamaServerModelOptionsSchema.shape).filter((key) => !(key in llamaModelOptionsSchema.shape)) as Array<keyof ModelConfig>;

/** Whether the model's table set a key of llama-server's that the in-process engine lacks. */
function usesServerOnlyKeys(table: Record<string, unknown>): boolean {
  return SERVER_ONLY_KEYS.some((key) => table[key] !== undefined);
}

/**
 * Moves the models that llama-server got by default onto the in-process engine when no binary can
 * run; `tables` are the [api.models.ID] tables as written (they tell a default from a choice).
 */
export function applyEngineFallback(
  config: Config,
  tables: Record<string, unknown>,
  configDirectory: string,
  locate: typeof locateLlamaServer = locateLlamaServer,
): ConfigNotice[] {
  const defaulted = Object.entries(config.api.models).filter(([id, model]) => {
    const table = (tables[id] ?? {}) as Record<string, unknown>;
    return model.backend === 'llama-server' && table.backend === undefined && !usesServerOnlyKeys(table);
  });
  // A binary that is named (config or environment) but cannot run is a config error, not a reason to fall back.
  if (defaulted.length === 0 || locate(config.engines.llama_server.binary, configDirectory) !== undefined) return [];
  return defaulted.map(([id, model]) => {
    // llama-server's keys are the in-process engine's (same schema, same defaults) plus SERVER_ONLY_KEYS.
    const inProcess: ModelConfig = { ...model, backend: 'llama' };
    for (const key of SERVER_ONLY_KEYS) delete inProcess[key];
    config.api.models[id] = inProcess;
    return {
      model: id,
      message:
        `runs on the in-process engine (backend = "llama"): a .gguf ${model.type} model gets llama-server by default, but no llama-server binary was built or named. ` +
        'Set backend = "llama" to choose it, or build llama-server (SWITCHYARD_LLAMA_SERVER_BUILD=force node scripts/build-llama-server.mjs)',
    };
  });
}
