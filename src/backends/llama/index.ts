// The llama.cpp adapter (node-llama-cpp): loads one GGUF file and exposes the capabilities its
// `type` calls for. Generation models get one context whose `parallel` sequences are shared by
// concurrent requests; embedding and rerank models get a one-sequence context of their kind.
import { open, stat } from 'node:fs/promises';
import type { Llama, LlamaContext, LlamaModel } from 'node-llama-cpp';
import type { BackendFactory, BackendLoadContext, LoadedModel, LoadedModelInfo } from '../../engine/contract.js';
import { hasOwnChatTemplate, resolveModelChatWrapper } from './chat-template.js';
import { canGenerate, resolveContextSize, vocabularySizeOf } from './context-settings.js';
import { GrammarCompiler } from './grammar.js';
import { DecodeRounds } from './decode-rounds.js';
import { createLlamaChat } from './llama-chat.js';
import { createLlamaEmbedding } from './llama-embedding.js';
import { createLlamaRerank } from './llama-rerank.js';
import { deviceInUse, getLlamaRuntime, resolveContextThreads } from './llama-runtime.js';
import { createLlamaTextCompletion } from './llama-text.js';
import { createLlamaTokenizer } from './llama-tokenizer.js';
import { SequencePool } from './sequence-pool.js';
import type { GenerationEngine } from './token-generation.js';

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function assertGgufFile(path: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `model file not found: ${path}` : `model file ${path} cannot be read: ${reasonOf(error)}`, { cause: error });
  }
  if (!info.isFile()) throw new Error(`${path} is not a file; the llama backend loads a single .gguf file`);
  // node-llama-cpp reads a non-GGUF file as GGUF and fails with an unrelated range error.
  const file = await open(path, 'r');
  try {
    const magic = Buffer.alloc(4);
    await file.read(magic, 0, 4, 0);
    if (magic.toString('latin1') !== 'GGUF') throw new Error(`${path} is not a GGUF file (it does not start with the bytes "GGUF")`);
  } finally {
    await file.close();
  }
}

async function loadGguf(llama: Llama, context: BackendLoadContext): Promise<LlamaModel> {
  const { resolvedPath, config } = context;
  await assertGgufFile(resolvedPath);
  try {
    return await llama.loadModel({ modelPath: resolvedPath, gpuLayers: config.gpu_layers, loadSignal: context.signal });
  } catch (error) {
    throw new Error(`could not load ${resolvedPath} as a GGUF model: ${reasonOf(error)}`, { cause: error });
  }
}

/** Context creation fails mostly for memory; the message says which knobs free some. */
function contextFailure(error: unknown, contextSize: number, sequences: number): Error {
  return new Error(
    `could not create a llama.cpp context of ${contextSize} tokens × ${sequences} sequence(s): ${reasonOf(error)}. ` +
      'Lower context_length or parallel, or offload fewer layers with gpu_layers.',
    { cause: error },
  );
}

interface Assembled {
  capabilities: Omit<LoadedModel, 'info' | 'parallelism' | 'dispose'>;
  parallelism: number;
  details: Record<string, unknown>;
  contextLength: number;
  dimensions?: number;
  dispose(): Promise<void>;
}

async function assembleGeneration(llama: Llama, model: LlamaModel, context: BackendLoadContext): Promise<Assembled> {
  const { config, id } = context;
  if (!canGenerate(model)) {
    throw new Error(
      `${context.resolvedPath} holds a ${String(model.fileInfo.metadata?.general?.architecture)} encoder, which cannot generate text; give it type "embedding" (or "rerank")`,
    );
  }
  const chatWrapper = config.type === 'chat' ? resolveModelChatWrapper(model, config) : undefined;
  const contextSize = resolveContextSize(config, model);
  let llamaContext: LlamaContext;
  try {
    llamaContext = await model.createContext({
      contextSize,
      sequences: config.parallel,
      batchSize: config.batch_size,
      threads: resolveContextThreads(llama, config.threads),
      createSignal: context.signal,
    });
  } catch (error) {
    throw contextFailure(error, contextSize, config.parallel);
  }
  const pool = new SequencePool(llamaContext);
  const vocabularySize = vocabularySizeOf(model);
  const engine: GenerationEngine = {
    model,
    pool,
    rounds: new DecodeRounds(),
    grammars: new GrammarCompiler(llama),
    contextSize: llamaContext.contextSize,
    vocabularySize,
    maxTokenMs: config.max_token_seconds * 1000,
    ...(config.max_thinking_tokens !== undefined ? { maxThinkingTokens: config.max_thinking_tokens } : {}),
  };
  return {
    capabilities: {
      ...(chatWrapper === undefined ? {} : { chat: createLlamaChat(engine, chatWrapper) }),
      textCompletion: createLlamaTextCompletion(engine, id),
      tokenizer: createLlamaTokenizer(model, vocabularySize),
    },
    parallelism: pool.size,
    contextLength: llamaContext.contextSize,
    details: {
      threads: llamaContext.idealThreads,
      parallel: pool.size,
      batchSize: llamaContext.batchSize,
      ...(chatWrapper === undefined
        ? {}
        : { chatWrapper: chatWrapper.wrapperName, chatTemplate: config.chat_template !== undefined ? 'config' : hasOwnChatTemplate(model) ? 'gguf' : 'none' }),
      infill: model.tokens.infill.prefix !== null && model.tokens.infill.suffix !== null,
    },
    dispose: async () => {
      pool.close();
      await llamaContext.dispose();
    },
  };
}

async function assembleEmbedding(llama: Llama, model: LlamaModel, context: BackendLoadContext): Promise<Assembled> {
  const { config } = context;
  const contextSize = resolveContextSize(config, model);
  // Encoders must see a whole input in one batch, so the batch is as large as the context.
  const batchSize = config.batch_size ?? contextSize;
  const threads = resolveContextThreads(llama, config.threads);
  const vocabularySize = vocabularySizeOf(model);
  const tokenizer = createLlamaTokenizer(model, vocabularySize);
  const pooling = (model.fileInfo.metadata as unknown as Record<string, { pooling_type?: unknown } | undefined>)[
    String(model.fileInfo.metadata?.general?.architecture)
  ]?.pooling_type;

  if (config.type === 'rerank') {
    let rankingContext;
    try {
      rankingContext = await model.createRankingContext({ contextSize, batchSize, threads, createSignal: context.signal });
    } catch (error) {
      throw new Error(`${context.resolvedPath} cannot rerank: ${reasonOf(error)} (a GGUF reranker declares rank pooling)`, { cause: error });
    }
    return {
      capabilities: { rerank: createLlamaRerank(model, rankingContext, { sigmoid: config.sigmoid }), tokenizer },
      parallelism: 1,
      contextLength: rankingContext.contextSize,
      details: { threads: threads ?? (llama.maxThreads || llama.cpuMathCores), batchSize, sigmoid: config.sigmoid },
      dispose: () => rankingContext.dispose(),
    };
  }

  if (config.dimensions !== undefined && config.dimensions !== model.embeddingVectorSize) {
    throw new Error(`model "${context.id}": config says dimensions = ${config.dimensions} but the model's vectors have ${model.embeddingVectorSize} values`);
  }
  let embeddingContext;
  try {
    embeddingContext = await model.createEmbeddingContext({ contextSize, batchSize, threads, createSignal: context.signal });
  } catch (error) {
    throw contextFailure(error, contextSize, 1);
  }
  return {
    capabilities: {
      // node-llama-cpp refuses inputs of contextSize tokens or more.
      embedding: createLlamaEmbedding(model, embeddingContext, { normalize: config.normalize, maxInputTokens: contextSize - 1, vocabularySize }),
      tokenizer,
    },
    parallelism: 1,
    contextLength: contextSize,
    dimensions: model.embeddingVectorSize,
    details: { threads: threads ?? (llama.maxThreads || llama.cpuMathCores), batchSize, normalize: config.normalize, ggufPoolingType: pooling },
    dispose: () => embeddingContext.dispose(),
  };
}

export const loadLlamaModel: BackendFactory = async (context) => {
  const { id, config, logger } = context;
  const started = performance.now();
  const llama = await getLlamaRuntime(logger);
  const model = await loadGguf(llama, context);
  let assembled: Assembled;
  try {
    assembled =
      config.type === 'chat' || config.type === 'completion' ? await assembleGeneration(llama, model, context) : await assembleEmbedding(llama, model, context);
  } catch (error) {
    await model.dispose().catch(() => undefined);
    throw error;
  }

  const loadSeconds = Number(((performance.now() - started) / 1000).toFixed(3));
  const info: LoadedModelInfo = {
    device: deviceInUse(llama, model.gpuLayers),
    contextLength: assembled.contextLength,
    ...(assembled.dimensions === undefined ? {} : { dimensions: assembled.dimensions }),
    details: {
      engine: 'llama.cpp',
      // "localBuild" when the install compiled llama.cpp for this CPU, else "prebuilt".
      engineBuild: llama.buildType,
      architecture: model.fileInfo.metadata?.general?.architecture,
      trainContextLength: model.trainContextSize,
      gpuLayers: model.gpuLayers,
      ...assembled.details,
      loadSeconds,
    },
  };
  logger.info({ model: id, device: info.device, contextLength: info.contextLength, ...info.details }, 'llama.cpp model loaded');
  if (config.context_length !== undefined && model.trainContextSize > 0 && config.context_length > model.trainContextSize) {
    logger.warn(
      { model: id, contextLength: config.context_length, trainContextLength: model.trainContextSize },
      'context_length exceeds the length the model was trained on; output past it may degrade',
    );
  }

  let disposed = false;
  return {
    info,
    ...assembled.capabilities,
    parallelism: assembled.parallelism,
    async dispose() {
      if (disposed) return;
      disposed = true;
      await assembled.dispose();
      await model.dispose();
    },
  };
};
