// What the config schema cannot check about the llama-server engine: that its binary can run (a
// file on this host), and which of its keys fit which model type. Run at every config load, so
// that a wrong setting is a config error naming its key, not a model that fails to load later.
import type { Config } from '../../config/schema.js';
import { locateLlamaServer, NO_BINARY_HINT, unrunnableReason } from './binary.js';

export interface LlamaServerConfigProblem {
  keyPath: string[];
  message: string;
}

/** Keys that only some model types can use, with the types. */
const KEYS_FOR_TYPES: ReadonlyArray<{ key: 'mmproj' | 'draft_model' | 'pooling'; types: readonly string[]; what: string }> = [
  { key: 'mmproj', types: ['chat'], what: 'a vision projector' },
  { key: 'draft_model', types: ['chat', 'completion'], what: 'a draft model for speculative decoding' },
  { key: 'pooling', types: ['embedding'], what: 'how token vectors become one' },
];

export function llamaServerConfigProblems(
  config: Config,
  configDirectory: string,
  locate: typeof locateLlamaServer = locateLlamaServer,
): LlamaServerConfigProblem[] {
  const problems: LlamaServerConfigProblem[] = [];
  const configured = config.engines.llama_server.binary;
  if (configured !== undefined) {
    const problem = unrunnableReason(locate(configured, configDirectory)!.path);
    if (problem !== undefined)
      problems.push({ keyPath: ['engines', 'llama_server', 'binary'], message: `expected an executable llama-server, found that ${problem}` });
  }
  const models = Object.entries(config.api.models).filter(([, model]) => model.backend === 'llama-server');
  for (const [id, model] of models) {
    for (const { key, types, what } of KEYS_FOR_TYPES) {
      if (model[key] !== undefined && !types.includes(model.type)) {
        problems.push({
          keyPath: ['api', 'models', id, key],
          message: `${what}: applies only to models of type ${types.map((type) => `"${type}"`).join(' or ')}, found type = "${model.type}"`,
        });
      }
    }
  }
  // Without a `binary`, every llama-server model needs one from the environment or the install step.
  if (configured === undefined && models.length > 0) {
    const binary = locate(undefined, configDirectory);
    const problem = binary === undefined ? NO_BINARY_HINT : unrunnableReason(binary.path);
    if (problem !== undefined) {
      const message = binary === undefined ? problem : `SWITCHYARD_LLAMA_SERVER names no executable llama-server: ${problem}`;
      for (const [id] of models) problems.push({ keyPath: ['api', 'models', id, 'backend'], message: `backend = "llama-server" needs its binary: ${message}` });
    }
  }
  return problems;
}
