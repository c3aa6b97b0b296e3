// The contract between the gateway and its engines, in a module of its own that routes, registry,
// scheduler, engines and plugins all import (and that imports none of them). An engine implements
// one small interface per capability and knows nothing of HTTP: routes speak OpenAI wire types,
// convert them (src/openai/) into these engine-level types, and never import an engine.
import type { EnginesConfig, ModelConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';

export type ModelType = 'chat' | 'completion' | 'embedding' | 'rerank';

/** A message after wire validation: roles checked, images decoded and checked. */
export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  /** The message's text: its text parts joined (all an engine without image input ever reads). */
  content: string;
  /**
   * The message's parts in the order the client sent them, set only on a user message that
   * carries an image (part j is the request's `content[j]`). Only a capability with
   * `acceptsImages` is ever given such a message: the model-call seam refuses it for the others.
   */
  parts?: ChatContentPart[];
  name?: string;
  /** An assistant message's tool calls, in the order it made them (its `content` is the text before them, often ''). */
  toolCalls?: ToolCall[];
  /** A `tool` message: the id of the earlier call whose result `content` is (checked to exist by the wire). */
  toolCallId?: string;
}

/** A function the model may call: OpenAI's `tools[i].function`, checked on the wire. */
export interface ToolDefinition {
  /** Unique within a request; `^[a-zA-Z0-9_-]{1,64}$` as OpenAI requires. */
  name: string;
  description?: string;
  /** JSON Schema of the arguments, an object schema (`{"type": "object", "properties": {}}` when the client gave none). */
  parameters: Record<string, unknown>;
  /**
   * The client's `strict`. Informational only: an engine that constrains calls does so whatever it
   * says (a call must always match its schema), and one that cannot refuses the schema.
   */
  strict?: boolean;
}

/**
 * Whether and which call the reply must make. `none`: text only. `auto`: text, or calls (each
 * call, once started, matches its schema). `required`: at least one call. `function`: exactly that
 * function is called (never silently downgraded to `auto`).
 */
export type ToolChoice = { kind: 'auto' } | { kind: 'none' } | { kind: 'required' } | { kind: 'function'; name: string };

/** A tool call as the history carries it and a result holds it. */
export interface ToolCall {
  /** `call_…`: made by the engine that generated it (or passed on from a remote upstream). */
  id: string;
  name: string;
  /** The arguments as JSON text, exactly as generated (a JSON object for the engines that constrain calls). */
  arguments: string;
}

/**
 * The tools of one chat request. `prepareChat` renders `definitions` with the model's template
 * (the system prompt lists them); `generate` gets the same object in its options and constrains
 * the reply by `choice` and `parallel`.
 */
export interface ChatTools {
  /** At least one; names unique. */
  definitions: ToolDefinition[];
  choice: ToolChoice;
  /** Whether one reply may make several calls (`parallel_tool_calls`, default true). */
  parallel: boolean;
}

/**
 * OpenAI's `reasoning_effort`: how long a model with thinking segments may think. `none`: no
 * thought (the template's switch, or an empty thought). The engines turn the others into a thought
 * budget (see src/backends/thought-segments.ts); a remote upstream gets the value as given.
 */
export type ReasoningEffort = 'none' | 'minimal' | 'low' | 'medium' | 'high';

/** What `prepareChat` takes besides the messages. */
export interface ChatPromptOptions {
  /** Undefined: the request has no tools (the template renders none). */
  tools?: ChatTools;
  /** The request's reasoning effort, for a template that can leave the thought out (`none`). Undefined: the model's default. */
  reasoningEffort?: ReasoningEffort;
  /** The request's exact thought budget (GenerationOptions.thinkingTokens), for an engine that must refuse it on some prompts. */
  thinkingTokens?: number;
}

export type ChatContentPart = { type: 'text'; text: string } | { type: 'image'; image: ChatImage };

/** The image types the engines decode (llama.cpp's loader reads these four). */
export type ChatImageMediaType = 'image/png' | 'image/jpeg' | 'image/webp' | 'image/gif';

/** An image of a chat message, checked on the wire: its type, its size, and that its bytes are of that type. */
export interface ChatImage {
  mediaType: ChatImageMediaType;
  /** The image as a base64 `data:` URL, the form OpenAI-compatible servers take. */
  dataUrl: string;
  /** Size of the decoded image in bytes. */
  byteLength: number;
  /** OpenAI's resolution hint, for engines that use it. */
  detail?: 'auto' | 'low' | 'high';
}

/** The internal name of part `partIndex` of message `messageIndex` (error fields; the wire's `messages[i].content[j]`). */
export function chatPartField(messageIndex: number, partIndex: number): string {
  return `messages[${messageIndex}].parts[${partIndex}]`;
}

/** How the output is constrained; adapters compile it to a grammar. */
export type OutputConstraint = { kind: 'json_object' } | { kind: 'json_schema'; schema: Record<string, unknown> } | { kind: 'gbnf'; grammar: string };

/** One options object per generation call; every field has a documented default. */
export interface GenerationOptions {
  /** Tokens to generate at most (the route resolves the default from the context left). */
  maxTokens: number;
  /** Default: the model's `default_temperature`, resolved by the route. */
  temperature: number;
  topP?: number;
  topK?: number;
  minP?: number;
  /** Same seed, same output. Undefined: a random seed. */
  seed?: number;
  /** Generation ends before any of these strings; they are not part of the output. */
  stop: string[];
  presencePenalty?: number;
  frequencyPenalty?: number;
  repeatPenalty?: number;
  /** Token id → bias added to its logit; -100 bans it. */
  logitBias?: Record<number, number>;
  constraint?: OutputConstraint;
  /** Number of alternatives per position to report (0 = only the chosen token). Undefined: none. */
  topLogprobs?: number;
  /**
   * The request's tools, the very object given to `prepareChat` for this prompt (chat only).
   * Undefined: no tools; the reply is text. Only a capability with `acceptsTools` is given them.
   */
  tools?: ChatTools;
  /**
   * The request's reasoning effort (chat only): on a model with thinking segments, the thought
   * ends (the engine writes the end marker) once its budget is spent. Undefined: the model's
   * `max_thinking_tokens`, or no limit. A constrained reply (`constraint`, tools) has no thought.
   */
  reasoningEffort?: ReasoningEffort;
  /**
   * An exact thought budget in tokens (Anthropic's `thinking.budget_tokens`): wins over
   * `reasoningEffort`'s, still capped by the model's `max_thinking_tokens`. A remote upstream,
   * which takes only an effort, gets the smallest effort whose budget covers it.
   */
  thinkingTokens?: number;
  /** Aborted when the client leaves: the engine stops within a token or two. */
  signal: AbortSignal;
  /**
   * Called with each event of the generation as soon as it is final (text with stop strings
   * already held back). A promise asks the engine to generate nothing more until it settles (the
   * reader is behind).
   */
  onEvent?: GenerationEventListener;
}

/**
 * What an engine reports while it generates, in order: `reasoning` and `text` deltas as they become
 * final; for each tool call a `tool_call_start` (index 0, 1, … in the reply's order, with its id and
 * function name) then its `tool_call_arguments` fragments, which joined are the call's arguments
 * (a call's fragments all come before the next call starts); then `tokens` (the logprobs of the
 * returned text, when `topLogprobs` asked for them), `finish` and `usage`. The union is open:
 * a consumer ignores a `type` it does not know.
 */
export type GenerationEvent =
  | { type: 'text'; text: string }
  /** The model's thought (a template's thinking segment), apart from the answer's `text`. */
  | { type: 'reasoning'; text: string }
  | { type: 'tool_call_start'; index: number; id: string; name: string }
  | { type: 'tool_call_arguments'; index: number; text: string }
  | { type: 'tokens'; logprobs: TokenLogprob[] }
  | { type: 'finish'; reason: FinishReason }
  | { type: 'usage'; promptTokens: number; completionTokens: number; cachedPromptTokens?: number };

export type GenerationEventListener = (event: GenerationEvent) => void | Promise<void>;

export interface TokenLogprob {
  token: string;
  logprob: number;
  topLogprobs: Array<{ token: string; logprob: number }>;
}

/** `tool_calls`: the reply ended after making at least one complete tool call. */
export type FinishReason = 'stop' | 'length' | 'tool_calls';

/** The whole of a generation once it ended: what its events said, gathered. */
export interface GenerationResult {
  /** The answer's text (with tool calls: the text before the first call). */
  text: string;
  /** The thought, when the template separates one (undefined: none). */
  reasoning?: string;
  /** The calls the reply made, in order (undefined or empty: none). */
  toolCalls?: ToolCall[];
  finishReason: FinishReason;
  /**
   * The request's stop string that ended the reply (one of `GenerationOptions.stop`), when one did.
   * Undefined for any other end, and from an engine that cannot tell (a remote upstream).
   */
  stopSequence?: string;
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens the engine found already evaluated (a cached prefix); undefined when unknown. */
  cachedPromptTokens?: number;
  logprobs?: TokenLogprob[];
}

/**
 * A prompt rendered (chat template) and tokenized once, by the capability that generates from it:
 * its token count decides the completion's budget before any slot is taken, and `generate` reuses
 * it (a chat is never rendered twice). Only the engine that made it reads what else it holds.
 */
export interface PreparedPrompt {
  /** Tokens of the prompt as the model sees it (an estimate where `promptTokensAreEstimates`). */
  readonly promptTokens: number;
}

export interface ChatCapability {
  /**
   * True when the model takes image parts (a llama-server model with a vision projector, a remote
   * upstream). Default false: messages with images are refused before `prepareChat`.
   */
  readonly acceptsImages?: boolean;
  /**
   * True when the engine takes `tools` (renders them with the template and honours every choice
   * as ToolChoice documents). Default false: a request with tools is refused before `prepareChat`,
   * and so is a history that holds tool calls or tool results.
   */
  readonly acceptsTools?: boolean;
  /** Renders the messages (and the tools, when given) with the model's template and tokenizes them. */
  prepareChat(messages: ChatMessage[], options?: ChatPromptOptions): Promise<PreparedPrompt>;
  /** One completion of a prompt this capability prepared; it may be called again for another choice. */
  generate(prompt: PreparedPrompt, options: GenerationOptions): Promise<GenerationResult>;
}

export interface TextCompletionCapability {
  /** `suffix` asks for fill-in-the-middle; adapters without it throw UnsupportedFeatureError (field `suffix`). */
  prepareText(prompt: string, options?: { suffix?: string }): Promise<PreparedPrompt>;
  generate(prompt: PreparedPrompt, options: GenerationOptions): Promise<GenerationResult>;
}

/** One input of an embedding request: text, or token ids the client already made. */
export type EmbeddingInput = string | number[];

/**
 * An input as its engine will run it: tokenized once, cut to the model's limit (or refused), and
 * counted. Each engine extends it with what it runs (its token ids); only that engine reads them.
 */
export interface PreparedEmbeddingInput {
  /** Tokens the model runs for this input, special tokens included (an estimate for a remote model). */
  readonly tokenCount: number;
}

export interface EmbeddingCapability<Prepared extends PreparedEmbeddingInput = PreparedEmbeddingInput> {
  /** Length of each vector before any `dimensions` shortening. */
  readonly dimensions: number;
  /** Longest input in tokens the model accepts. */
  readonly maxInputTokens: number;
  /** Token ids a token-array input may hold: 0 to vocabularySize - 1 (unknown for a remote model). */
  readonly vocabularySize?: number;
  /**
   * True for an engine that takes concurrent calls and batches on its own side (a remote
   * server): it gets no batcher in front of it, and its calls take the model's slots. Default false.
   */
  readonly takesConcurrentCalls?: boolean;
  /**
   * Tokenizes each input, once, and cuts it to `maxInputTokens` (`truncate`) or refuses it
   * (InputTooLongError; InvalidInputError for a token id outside the vocabulary). The token counts
   * are known before any run: they reserve the rate-limit budget and let a batcher group inputs by
   * length. Inputs are already checked by the route.
   */
  prepare(inputs: EmbeddingInput[], options: { truncate: boolean; signal?: AbortSignal }): Promise<Prepared[]>;
  /** One vector per prepared input, in order, with nothing tokenized again. */
  embed(inputs: readonly Prepared[], options: { signal?: AbortSignal }): Promise<EmbeddingBatchResult>;
}

export interface EmbeddingBatchResult {
  vectors: Float32Array[];
  /** Tokens each input ran: the prepared counts (a remote model's, from the upstream's usage). */
  tokenCounts: number[];
}

export interface RerankCapability {
  readonly maxInputTokens: number;
  /** One relevance score per document, in the documents' order: sigmoid(logit), or the logit itself with the model's `sigmoid = false`. */
  rerank(query: string, documents: string[], options: { truncate: boolean; signal?: AbortSignal }): Promise<RerankResult>;
}

export interface RerankResult {
  scores: number[];
  promptTokens: number;
}

export interface TokenizeCapability {
  tokenize(text: string, options?: { addSpecialTokens?: boolean }): Promise<number[]>;
  detokenize(tokens: number[]): Promise<string>;
}

/** What a loaded model reports about itself (shown in /v1/models metadata and the log). */
export interface LoadedModelInfo {
  /** e.g. "cpu", "cuda", "vulkan" — the device the engine actually uses. */
  device: string;
  contextLength?: number;
  dimensions?: number;
  /** Anything else worth showing to an operator (chat template name, threads, providers). */
  details?: Record<string, unknown>;
  /**
   * Details that name the host's files or network (model file paths, upstream URLs and their
   * errors): shown to admin keys only, merged over `details`.
   */
  adminDetails?: Record<string, unknown>;
}

/** A model instance held by the registry. Capabilities it lacks are undefined. */
export interface LoadedModel {
  readonly info: LoadedModelInfo;
  readonly chat?: ChatCapability;
  readonly textCompletion?: TextCompletionCapability;
  readonly embedding?: EmbeddingCapability;
  readonly rerank?: RerankCapability;
  readonly tokenizer?: TokenizeCapability;
  /** How many generations may run at once on this instance (the scheduler's slot count). */
  readonly parallelism: number;
  /**
   * True when prepared prompts hold estimated token counts (a remote model has no tokenizer
   * here): the reservation for rate limits uses them, and the usage reported and charged after
   * the run is the `promptTokens` of the results. Default false.
   */
  readonly promptTokensAreEstimates?: boolean;
  /**
   * The engine's own metrics in Prometheus text format, for an engine that keeps some (a
   * llama-server process's `--metrics`): the gateway's /metrics appends them, labelled by model.
   * Rejects when the engine cannot answer now (it is restarting); that scrape goes on without them.
   */
  engineMetrics?(signal: AbortSignal): Promise<string>;
  dispose(): Promise<void>;
}

/**
 * How an engine that runs in a process of its own is doing, reported as it changes: the registry
 * shows it as the model's status (`restarting`, then `ready` again, or `unavailable`).
 */
export type EngineProcessState =
  | { status: 'serving' }
  /** `reason` names the exit (code or signal) and the next attempt; it holds no path. */
  | { status: 'restarting'; reason: string; retryAfterMs: number }
  /**
   * Given up after repeated failures. `summary` holds no path (any key may read it); `reason`
   * and `logTail` (the engine's last log lines) may, and are shown to admins only.
   */
  | { status: 'failed'; summary: string; reason: string; logTail: string[] };

export interface BackendLoadContext {
  id: string;
  config: ModelConfig;
  /** `path` resolved against the config file's folder. */
  resolvedPath: string;
  /** The config file's folder: other paths among the model's keys resolve against it. Default: the working directory. */
  configDirectory?: string;
  /** The config's [engines] tables, for a backend that reads its engine's settings there. */
  engines?: EnginesConfig;
  logger: Logger;
  signal?: AbortSignal;
  /** Where an engine that supervises a process of its own reports how it is doing (see EngineProcessState). */
  onEngineState?(state: EngineProcessState): void;
}

/** An async factory: loads a model, or throws with a reason an operator can act on. */
export type BackendFactory = (context: BackendLoadContext) => Promise<LoadedModel>;
