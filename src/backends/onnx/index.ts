// The ONNX Runtime backend: embedding and rerank models from a folder holding an .onnx graph
// and its tokenizer.json. The session lives in a worker thread (session-worker.ts).
import type { BackendFactory, LoadedModel, TokenizeCapability } from '../../engine/contract.js';
import { chooseEmbeddingOutput, OnnxEmbedding } from './embedding.js';
import { InputPreparation } from './input-preparation.js';
import { resolveInputLimit } from './input-limit.js';
import { planInputFeeds } from './input-tensors.js';
import { locateOnnxModelFiles } from './model-files.js';
import { chooseLogitsOutput, OnnxRerank } from './rerank.js';
import { OnnxSessionClient } from './session-client.js';
import { loadModelTokenizer, type ModelTokenizer } from './tokenizer.js';

export const loadOnnxModel: BackendFactory = async ({ id, config, resolvedPath, logger, signal }) => {
  // The registry's logger already carries the model id and backend.
  const log = logger;
  if (config.type !== 'embedding' && config.type !== 'rerank') {
    throw new Error(`model "${id}": the ONNX backend serves embedding and rerank models, not type "${config.type}"`);
  }
  const files = await locateOnnxModelFiles(resolvedPath, config.file);
  const startedAt = performance.now();
  // Both load at once; a worker that started while the tokenizer failed must not be left running.
  const [tokenizerLoad, sessionLoad] = await Promise.allSettled([
    loadModelTokenizer(files),
    OnnxSessionClient.start(
      {
        modelFile: files.modelFile,
        executionProviders: config.execution_providers,
        intraOpThreads: config.intra_op_threads,
        interOpThreads: config.inter_op_threads,
        graphOptimizationLevel: config.graph_optimization_level,
        allowSpinning: config.allow_spinning,
      },
      signal,
    ),
  ]);
  if (sessionLoad.status === 'rejected') throw sessionLoad.reason;
  const session = sessionLoad.value;
  if (tokenizerLoad.status === 'rejected') {
    await session.dispose();
    throw tokenizerLoad.reason;
  }
  const tokenizer = tokenizerLoad.value;

  try {
    for (const failure of session.failures) {
      log.warn({ provider: failure.provider, reason: failure.message }, `ONNX Runtime ${failure.provider} execution provider unavailable; trying the next one`);
    }
    signal?.throwIfAborted();
    const feeds = planInputFeeds(session.inputs);
    const limit = resolveInputLimit(files, tokenizer, config.context_length);
    if (limit.detected !== undefined && limit.maxInputTokens > limit.detected) {
      log.warn(
        { contextLength: limit.maxInputTokens, modelLimit: limit.detected },
        'context_length is above the limit the model files state; longer inputs may fail in the engine',
      );
    }
    const preparation = new InputPreparation(tokenizer, limit.maxInputTokens);
    const limits = { maxBatchSize: config.max_batch_size, maxBatchTokens: config.max_batch_tokens };
    const common = {
      device: session.provider,
      inputs: feeds.map((feed) => feed.name),
      maxInputTokensFrom: limit.source,
      intraOpThreads: config.intra_op_threads ?? 'auto',
      interOpThreads: config.inter_op_threads ?? 'auto',
      graphOptimizationLevel: config.graph_optimization_level,
      allowSpinning: config.allow_spinning,
      providersTried: config.execution_providers,
    };

    let model: LoadedModel;
    if (config.type === 'embedding') {
      const output = chooseEmbeddingOutput(session.outputs);
      const embedding = await OnnxEmbedding.create(session, feeds, preparation, {
        ...limits,
        output,
        pooling: config.pooling,
        normalize: config.normalize,
        maxInputTokens: limit.maxInputTokens,
        padTokenId: tokenizer.padTokenId,
      });
      if (config.dimensions !== undefined && config.dimensions !== embedding.dimensions) {
        throw new Error(`model "${id}": config says dimensions = ${config.dimensions} but the model's vectors have ${embedding.dimensions} values`);
      }
      const pooling = output.perToken ? config.pooling : `by the model (${output.name})`;
      model = assemble(session, tokenizer, {
        info: {
          device: session.provider,
          contextLength: limit.maxInputTokens,
          dimensions: embedding.dimensions,
          details: { ...common, output: output.name, pooling, normalize: config.normalize },
          adminDetails: { file: files.modelFile },
        },
        embedding,
      });
      log.info(
        {
          ...common,
          file: files.modelFile,
          dimensions: embedding.dimensions,
          maxInputTokens: limit.maxInputTokens,
          output: output.name,
          pooling,
          loadMs: Math.round(performance.now() - startedAt),
        },
        'ONNX embedding model loaded',
      );
    } else {
      if (tokenizer.pair === undefined) throw new Error(`model "${id}": its tokenizer cannot encode (query, document) pairs, which a rerank model needs`);
      const logitsOutput = chooseLogitsOutput(session.outputs);
      const rerank = await OnnxRerank.create(session, feeds, preparation, {
        ...limits,
        logitsOutput,
        sigmoid: config.sigmoid,
        maxInputTokens: limit.maxInputTokens,
        padTokenId: tokenizer.padTokenId,
      });
      model = assemble(session, tokenizer, {
        info: {
          device: session.provider,
          contextLength: limit.maxInputTokens,
          details: { ...common, output: logitsOutput, labels: rerank.labels, sigmoid: config.sigmoid },
          adminDetails: { file: files.modelFile },
        },
        rerank,
      });
      log.info(
        { ...common, file: files.modelFile, maxInputTokens: limit.maxInputTokens, labels: rerank.labels, loadMs: Math.round(performance.now() - startedAt) },
        'ONNX rerank model loaded',
      );
    }
    return model;
  } catch (error) {
    await session.dispose();
    throw error;
  }
};

function assemble(session: OnnxSessionClient, tokenizer: ModelTokenizer, parts: Pick<LoadedModel, 'info' | 'embedding' | 'rerank'>): LoadedModel {
  const tokenize: TokenizeCapability = {
    // Without special tokens unless asked, as the llama adapter (and llama.cpp's /tokenize) do;
    // with them, these are exactly the ids an embedding runs.
    tokenize: async (text, options) => tokenizer.encode(text, options?.addSpecialTokens ?? false),
    detokenize: async (tokens) => tokenizer.decode(tokens),
  };
  return {
    ...parts,
    tokenizer: tokenize,
    // One session runs one batch at a time; concurrency comes from the embedding batcher.
    parallelism: 1,
    dispose: () => session.dispose(),
  };
}
