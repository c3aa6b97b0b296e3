// The typed registry of engine adapters. Engines are imported on first use so that a gateway
// serving only ONNX models never loads llama.cpp, and the reverse.
import type { BuiltInBackendName } from '../config/schema.js';
import type { BackendFactory } from '../engine/contract.js';

export const backendFactories = {
  llama: async (context) => (await import('./llama/index.js')).loadLlamaModel(context),
  onnx: async (context) => (await import('./onnx/index.js')).loadOnnxModel(context),
} satisfies Record<BuiltInBackendName, BackendFactory>;

export type BackendFactories = Record<string, BackendFactory>;
