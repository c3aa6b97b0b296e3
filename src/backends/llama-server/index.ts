// The llama-server engine: one supervised llama-server process per model (supervisor.ts), started
// with the flags the model's keys map to (options.ts), from the binary binary.ts finds. What the
// model can do reaches that process over HTTP through the supervisor's connection.
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { BackendDescriptorLoadContext } from '../../engine/backend-descriptor.js';
import { llamaServerEngineSchema, type ModelConfig } from '../../config/schema.js';
import type { LoadedModel, LoadedModelInfo, ModelType } from '../../engine/contract.js';
import { DEFAULT_CONTEXT_CAP } from '../llama/context-settings.js';
import { checkGgufFile } from '../model-paths.js';
import { describeLlamaServer, deviceOf, locateLlamaServer, NO_BINARY_HINT, unrunnableReason } from './binary.js';
import { createServerChat, type ServerVision } from './chat.js';
import type { ServerThinking } from './generation.js';
import { thoughtMarkersOf } from '../thought-segments.js';
import { createServerTextCompletion } from './completion.js';
import type { LlamaServerConnection } from './connection.js';
import { createServerEmbedding } from './embedding.js';
import { createServerRerank } from './rerank.js';
import { readServerInfo, type LlamaServerInfo } from './server-info.js';
import { getText } from './server-wire.js';
import { createServerTokenizer } from './tokenizer.js';
import { llamaServerModelArguments, type LlamaServerModelOptions } from './options.js';
import { LlamaServerSupervisor } from './supervisor.js';

/** The wait for /health after a start when `load_timeout_seconds` is absent: a minute, plus a second per 100 MiB of model to read. */
const READY_BASE_MS = 60_000;
const READY_MS_PER_BYTE = 1_000 / (100 * 1024 * 1024);
/** Beyond a generation's own limit, the wait for response headers allows for the prompt's evaluation. */
const RESPONSE_MARGIN_MS = 30_000;

/** What the GGUF says that the flags depend on, read without loading the model. */
interface GgufFacts {
  architecture?: string;
  trainContextLength?: number;
  /** Length of the model's vectors (an embedding model's dimensions). */
  embeddingLength?: number;
  /** The GGUF's Jinja chat template (`tokenizer.chat_template`). */
  chatTemplate?: string;
}

async function readGgufFacts(file: string): Promise<GgufFacts> {
  const { readGgufFileInfo } = await import('node-llama-cpp');
  let info;
  try {
    info = await readGgufFileInfo(file, {
      readTensorInfo: false,
      sourceType: 'filesystem',
      logWarnings: false,
      ignoreKeys: ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges'],
    });
  } catch (error) {
    throw new Error(`${file} is not a readable GGUF file: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const architecture = info.metadata?.general?.architecture;
  const own = (info.metadata as unknown as Record<string, { context_length?: unknown; embedding_length?: unknown } | undefined>)[String(architecture)];
  const positive = (value: unknown) => (typeof value === 'number' && value > 0 ? value : undefined);
  return {
    architecture: architecture === undefined ? undefined : String(architecture),
    trainContextLength: positive(own?.context_length),
    embeddingLength: positive(own?.embedding_length),
    ...(typeof info.metadata?.tokenizer?.chat_template === 'string' ? { chatTemplate: info.metadata.tokenizer.chat_template } : {}),
  };
}

/** The template's thinking segment (the process renders with the same template: `chat_template` or the GGUF's). */
function thinkingOf(chatTemplate: string | undefined, maxThinkingTokens: number | undefined): ServerThinking | undefined {
  const markers = thoughtMarkersOf(chatTemplate);
  return markers === undefined ? undefined : { markers, ...(maxThinkingTokens !== undefined ? { maxThinkingTokens } : {}) };
}

/** A path among the model's keys, resolved like `path`, checked to be a file. */
async function resolveModelFile(key: string, value: string | undefined, configDirectory: string): Promise<string | undefined> {
  if (value === undefined) return undefined;
  const resolved = path.resolve(configDirectory, value);
  const problem = await checkGgufFile(resolved);
  if (problem !== undefined) throw new Error(`${key}: ${problem}`);
  return resolved;
}

/** The llama-server binary for this load, or a reason an operator can act on. */
function binaryFor(context: BackendDescriptorLoadContext<LlamaServerModelOptions>, configDirectory: string): string {
  const binary = locateLlamaServer(context.engines?.llama_server.binary, configDirectory);
  if (binary === undefined) throw new Error(NO_BINARY_HINT);
  const problem = unrunnableReason(binary.path);
  if (problem !== undefined) {
    const named =
      binary.source === 'config' ? '[engines.llama_server] binary' : binary.source === 'environment' ? 'SWITCHYARD_LLAMA_SERVER' : 'the install step';
    throw new Error(`the llama-server binary from ${named}: ${problem}`);
  }
  return binary.path;
}

/**
 * The model's capabilities over its process's HTTP API, each taking the connection to the process
 * serving now. A chat model also completes text, as on the in-process engine.
 */
function capabilitiesOf(
  connection: LlamaServerConnection,
  type: ModelType,
  config: ModelConfig,
  options: LlamaServerModelOptions,
  server: LlamaServerInfo,
  vision: ServerVision | undefined,
  chatTemplate: string | undefined,
): Partial<LoadedModel> {
  const generation = { contextLength: server.contextLength, vocabularySize: server.vocabularySize, maxTokenSeconds: options.max_token_seconds };
  const tokenizer = createServerTokenizer(connection, { vocabularySize: server.vocabularySize });
  const textCompletion = () => createServerTextCompletion(connection, { ...generation, infillOverheadTokens: server.infillOverheadTokens });
  switch (type) {
    case 'chat':
      return {
        chat: createServerChat(connection, { ...generation, thinking: thinkingOf(chatTemplate, options.max_thinking_tokens) }, vision, {
          modelId: connection.modelId,
          chatTemplate: server.chatTemplate,
          listsTools: server.templateListsTools,
        }),
        textCompletion: textCompletion(),
        tokenizer,
      };
    case 'completion':
      return { textCompletion: textCompletion(), tokenizer };
    case 'embedding':
      return {
        embedding: createServerEmbedding(connection, {
          normalize: config.normalize,
          dimensions: server.dimensions,
          maxInputTokens: server.maxInputTokens,
          vocabularySize: server.vocabularySize,
        }),
        tokenizer,
      };
    case 'rerank':
      return { rerank: createServerRerank(connection, { sigmoid: config.sigmoid, maxInputTokens: server.maxInputTokens }), tokenizer };
  }
}

export async function loadLlamaServerModel(context: BackendDescriptorLoadContext<LlamaServerModelOptions>): Promise<LoadedModel> {
  const { id, config, modelOptions: options, logger, resolvedPath } = context;
  const configDirectory = context.configDirectory ?? process.cwd();
  const started = performance.now();
  const binary = binaryFor(context, configDirectory);
  const description = await describeLlamaServer(binary);
  const mmprojPath = await resolveModelFile('mmproj', options.mmproj, configDirectory);
  const draftModelPath = await resolveModelFile('draft_model', options.draft_model, configDirectory);
  const facts = await readGgufFacts(resolvedPath);
  if (config.type === 'embedding' && config.dimensions !== undefined && facts.embeddingLength !== undefined && config.dimensions !== facts.embeddingLength) {
    throw new Error(`model "${id}": config says dimensions = ${config.dimensions} but the model's vectors have ${facts.embeddingLength} values`);
  }
  // As on the in-process engine: the training context, capped (see DEFAULT_CONTEXT_CAP for why).
  const contextLength = config.context_length ?? Math.min(facts.trainContextLength ?? DEFAULT_CONTEXT_CAP, DEFAULT_CONTEXT_CAP);
  const modelBytes = (await stat(resolvedPath)).size;
  // The schema's defaults when the caller passed no [engines] tables.
  const engine = context.engines?.llama_server ?? llamaServerEngineSchema.parse({});
  // The marker where an image goes in a prompt, given to the process rather than read from it: it
  // stays the same across restarts, and unguessable, so that no client text can stand for an image.
  const mediaMarker = mmprojPath === undefined ? undefined : `<__media_${randomUUID()}__>`;
  const supervisor = await LlamaServerSupervisor.start({
    modelId: id,
    binary,
    modelArgs: llamaServerModelArguments({ type: config.type, modelPath: resolvedPath, contextLength, options, mmprojPath, draftModelPath }),
    environment: mediaMarker === undefined ? {} : { LLAMA_MEDIA_MARKER: mediaMarker },
    logger,
    readyTimeoutMs: engine.load_timeout_seconds === undefined ? READY_BASE_MS + modelBytes * READY_MS_PER_BYTE : engine.load_timeout_seconds * 1000,
    liveness: {
      intervalMs: engine.health_check_interval_seconds * 1000,
      timeoutMs: engine.health_check_timeout_seconds * 1000,
      failures: engine.health_check_failures,
    },
    responseTimeoutMs: config.max_generation_seconds * 1000 + RESPONSE_MARGIN_MS,
    onStateChange: context.onEngineState,
    signal: context.signal,
  });
  const properties = supervisor.properties;
  const server = await readServerInfo(supervisor.connection, {
    generates: config.type === 'chat' || config.type === 'completion',
    signal: context.signal,
  }).catch(async (error: unknown) => {
    await supervisor.stop();
    throw error;
  });
  const loadSeconds = Number(((performance.now() - started) / 1000).toFixed(3));
  const info: LoadedModelInfo = {
    device: deviceOf(description, options.gpu_layers),
    contextLength: properties.slotContextLength ?? contextLength,
    ...(config.type === 'embedding' && facts.embeddingLength !== undefined ? { dimensions: facts.embeddingLength } : {}),
    details: {
      engine: 'llama-server',
      engineVersion: description.version,
      ...(description.build === undefined ? {} : { engineBuild: description.build }),
      architecture: facts.architecture,
      trainContextLength: facts.trainContextLength,
      parallel: options.parallel,
      ...(options.threads === undefined ? {} : { threads: options.threads }),
      gpuLayers: options.gpu_layers,
      ...(config.type === 'chat' && properties.vision !== undefined ? { vision: properties.vision } : {}),
      speculativeDecoding: draftModelPath !== undefined,
      loadSeconds,
    },
    // Read at each view: the process, and so its pid and port, change with every restart.
    get adminDetails() {
      return {
        binary,
        ...(mmprojPath === undefined ? {} : { mmproj: mmprojPath }),
        ...(draftModelPath === undefined ? {} : { draftModel: draftModelPath }),
        pid: supervisor.pid ?? null,
        address: supervisor.address ?? null,
        engineStatus: supervisor.status,
      };
    },
  };
  logger.info({ model: id, device: info.device, contextLength: info.contextLength, ...info.details }, 'llama-server model loaded');
  return {
    info,
    // A projector without a vision encoder (audio only) takes no images.
    ...capabilitiesOf(
      supervisor.connection,
      config.type,
      config,
      options,
      server,
      mediaMarker !== undefined && properties.vision !== false ? { mediaMarker } : undefined,
      options.chat_template ?? facts.chatTemplate,
    ),
    parallelism: options.parallel,
    // The process runs with --metrics (options.ts); while it restarts, baseUrl() throws and the scrape skips it.
    engineMetrics: (signal) => getText(supervisor.connection, '/metrics', signal),
    dispose: () => supervisor.stop(),
  };
}
