// Decides which engine runs a model and whether its files are there, so operators need not say
// the backend and learn of a missing file as soon as the model is configured.
import { builtInBackends } from '../backends/index.js';
import type { BackendName, ModelConfig } from '../config/schema.js';
import { backendClaiming } from '../engine/backend-descriptor.js';

export interface BackendInference {
  /** Undefined when the path does not tell and no `backend` key is set. */
  backend?: BackendName;
  /** Why the model cannot be loaded as configured (missing file, unrecognised folder). */
  problem?: string;
}

export async function inferBackend(config: ModelConfig, resolvedPath: string): Promise<BackendInference> {
  // A validated config names the backend; a model built from the schema alone (tests) may not.
  const name = config.backend ?? backendClaiming(config.path, config.type, builtInBackends)?.name;
  const builtIn = builtInBackends.find((backend) => backend.name === name);
  // A plugin's backend checks its files when it loads.
  if (!builtIn) return { backend: name };
  return { backend: name, problem: await builtIn.checkFiles?.(resolvedPath, config) };
}
