// The backends built into switchyard, described like the ones plugins register. Engines are
// imported on first load so that a gateway serving only ONNX models never loads llama.cpp, and
// the reverse.
import { backendFactory, defineBackend, type BackendDescriptor } from '../engine/backend-descriptor.js';
import type { BackendFactory, ModelType } from '../engine/contract.js';
import { llamaModelOptionsSchema } from './llama/options.js';
import { llamaServerModelOptionsSchema } from './llama-server/options.js';
import { checkGgufFile, checkOnnxFolder, isGgufPath } from './model-paths.js';
import { onnxModelOptionsSchema } from './onnx/options.js';

/** Model types that a .gguf model naming no backend runs on llama-server (see `generatesText`). */
const generatesText = (type: ModelType) => type === 'chat' || type === 'completion';

/**
 * llama.cpp in-process. A .gguf embedding or rerank model that names no backend runs here: the
 * gateway batches their inputs into one engine call itself, with no HTTP hop to pay per batch.
 */
export const llamaBackend = defineBackend({
  name: 'llama',
  modelOptionsSchema: llamaModelOptionsSchema,
  requiresPath: true,
  claimsPath: (modelPath, type) => isGgufPath(modelPath) && !generatesText(type),
  checkFiles: checkGgufFile,
  load: async (context) => (await import('./llama/index.js')).loadLlamaModel(context),
});

/**
 * llama.cpp's own server, one supervised process per model. A .gguf chat or completion model that
 * names no backend runs here: measured on the same cores it serves concurrent streams faster than
 * the in-process engine (README, "Two engines for GGUF models"), takes images, and a crash of
 * llama.cpp ends one process, not the gateway. Without a binary such a model runs in-process
 * instead, with a warning (src/config/engine-fallback.ts).
 */
export const llamaServerBackend = defineBackend({
  name: 'llama-server',
  modelOptionsSchema: llamaServerModelOptionsSchema,
  requiresPath: true,
  claimsPath: (modelPath, type) => isGgufPath(modelPath) && generatesText(type),
  checkFiles: checkGgufFile,
  load: async (context) => (await import('./llama-server/index.js')).loadLlamaServerModel(context),
});

export const onnxBackend = defineBackend({
  name: 'onnx',
  modelOptionsSchema: onnxModelOptionsSchema,
  requiresPath: true,
  // Asked after llama: every path that is not a .gguf file (an ONNX model is a folder, whose name
  // says nothing).
  claimsPath: (modelPath) => !isGgufPath(modelPath),
  checkFiles: checkOnnxFolder,
  load: async (context) => (await import('./onnx/index.js')).loadOnnxModel(context),
});

/** In the order they claim paths. */
export const builtInBackends: readonly BackendDescriptor[] = [llamaBackend, llamaServerBackend, onnxBackend];

export const backendNames: readonly string[] = builtInBackends.map((backend) => backend.name);

export type BackendFactories = Record<string, BackendFactory>;

export const backendFactories: BackendFactories = Object.fromEntries(builtInBackends.map((backend) => [backend.name, backendFactory(backend)]));
