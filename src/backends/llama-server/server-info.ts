// What a running llama-server says about the model it serves, read once after it is ready: the
// loader fills LoadedModelInfo from it and the capabilities take their limits from it.
import type { LlamaServerConnection } from './connection.js';
import { getJson, postJson } from './server-wire.js';

export interface LlamaServerInfo {
  /** Tokens one slot holds (prompt and completion together): the server's context divided by its slots. */
  contextLength: number;
  /** Tokens the model was trained on (0 when the GGUF does not say). */
  trainContextLength: number;
  /** Token ids 0 to vocabularySize - 1 exist. */
  vocabularySize: number;
  /** Width of the model's embeddings (the vector length of an embedding model). */
  dimensions: number;
  /**
   * Longest embedding or rerank input: a slot's context. An encoder also needs the whole input in
   * one micro-batch, so the process must run with --ubatch-size at least this large.
   */
  maxInputTokens: number;
  /** Generations the process runs at once (--parallel). */
  slots: number;
  /** Tokens /infill adds around a prefix and a suffix (FIM tokens, BOS); undefined when the model has no FIM tokens. */
  infillOverheadTokens?: number;
  /** The chat template the server renders with ("" when the model has none). */
  chatTemplate: string;
  /** Whether that template lists tools itself (llama.cpp's reading of it); without, tool definitions cannot be rendered for the model. */
  templateListsTools: boolean;
  /** llama.cpp's build, e.g. "b6800-abc1234". */
  build: string;
  /** Architecture and size as the server reports them, for /v1/models metadata. */
  details: Record<string, unknown>;
}

interface PropsAnswer {
  default_generation_settings?: { n_ctx?: number };
  total_slots?: number;
  chat_template?: string;
  chat_template_caps?: { supports_tools?: boolean };
  build_info?: string;
  model_ftype?: string;
  modalities?: Record<string, boolean>;
}

interface ModelsAnswer {
  data?: Array<{ meta?: { n_vocab?: number; n_ctx?: number; n_ctx_train?: number; n_embd?: number; n_params?: number; size?: number; vocab_type?: number } }>;
}

/**
 * /infill refuses at once, before any work, when the vocabulary lacks a FIM token. With FIM
 * tokens, an empty prefix and suffix at n_predict 0 evaluates only what the server adds, and
 * generates nothing.
 */
async function infillOverhead(connection: LlamaServerConnection, signal?: AbortSignal): Promise<number | undefined> {
  try {
    const answer = await postJson<{ tokens_evaluated?: number }>(
      connection,
      '/infill',
      { input_prefix: '', input_suffix: '', n_predict: 0, cache_prompt: false },
      signal,
    );
    return answer.tokens_evaluated ?? 3;
  } catch (error) {
    if (signal?.aborted) throw error;
    return undefined;
  }
}

/** Reads /props and /v1/models (and probes /infill for a model that generates). */
export async function readServerInfo(connection: LlamaServerConnection, options: { generates: boolean; signal?: AbortSignal }): Promise<LlamaServerInfo> {
  const [props, models] = await Promise.all([
    getJson<PropsAnswer>(connection, '/props', options.signal),
    getJson<ModelsAnswer>(connection, '/v1/models', options.signal),
  ]);
  const meta = models.data?.[0]?.meta ?? {};
  const contextLength = props.default_generation_settings?.n_ctx ?? meta.n_ctx;
  if (typeof contextLength !== 'number' || contextLength <= 0)
    throw new Error(`llama-server of model "${connection.modelId}" reported no context size in /props`);
  const infillOverheadTokens = options.generates ? await infillOverhead(connection, options.signal) : undefined;
  const vocabularySize = typeof meta.n_vocab === 'number' && meta.n_vocab > 0 ? meta.n_vocab : Number.MAX_SAFE_INTEGER;
  return {
    contextLength,
    trainContextLength: meta.n_ctx_train ?? 0,
    vocabularySize,
    dimensions: meta.n_embd ?? 0,
    maxInputTokens: contextLength,
    slots: props.total_slots ?? 1,
    ...(infillOverheadTokens === undefined ? {} : { infillOverheadTokens }),
    chatTemplate: props.chat_template ?? '',
    templateListsTools: props.chat_template_caps?.supports_tools === true,
    build: props.build_info ?? 'unknown',
    details: {
      ...(props.model_ftype === undefined ? {} : { modelType: props.model_ftype }),
      ...(meta.n_params === undefined ? {} : { parameters: meta.n_params }),
      ...(props.modalities === undefined ? {} : { modalities: props.modalities }),
    },
  };
}
