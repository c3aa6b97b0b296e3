// switchyard as a library: the types and helpers plugin authors import
// (`import { definePlugin, type PluginContext } from 'switchyard'`). The command line is
// src/main.ts; nothing here starts a server.
export { definePlugin } from './plugins/plugin-api.js';
export type {
  PluginBackend,
  PluginBackendLoadContext,
  PluginContext,
  PluginEndpoint,
  PluginRequest,
  PluginResponse,
  RequestHooks,
  StreamChunk,
  SwitchyardPlugin,
} from './plugins/plugin-api.js';
export type {
  BackendLoadContext,
  ChatCapability,
  ChatContentPart,
  ChatImage,
  ChatImageMediaType,
  ChatMessage,
  ChatPromptOptions,
  ChatTools,
  EmbeddingBatchResult,
  EmbeddingCapability,
  EmbeddingInput,
  EngineProcessState,
  FinishReason,
  GenerationEvent,
  GenerationEventListener,
  GenerationOptions,
  GenerationResult,
  LoadedModel,
  LoadedModelInfo,
  OutputConstraint,
  PreparedPrompt,
  RerankCapability,
  RerankResult,
  TextCompletionCapability,
  TokenizeCapability,
  TokenLogprob,
  ToolCall,
  ToolChoice,
  ToolDefinition,
} from './engine/contract.js';
export { chatPartField } from './engine/contract.js';
export {
  DomainError,
  EngineUnavailableError,
  InputTooLongError,
  InvalidImageError,
  InvalidInputError,
  TokenTimeoutError,
  UnsupportedFeatureError,
} from './engine/errors.js';
export { newToolCallId } from './engine/tool-calls.js';
export { errors, GatewayError, retryHeaders, type ErrorType, type GatewayErrorOptions } from './errors.js';
export type { Usage } from './openai/generation-wire.js';
