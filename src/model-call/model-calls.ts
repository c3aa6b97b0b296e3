// The model-call API: what routes use to reach a model. Resolving a model by name yields a handle
// that holds the model's registry lease; its calls apply the model's admission themselves (queue,
// wait limit, slots, per-request share, run time), so a route parses, calls and formats, and never
// builds engine closures or touches a scheduler. It knows nothing of HTTP: failures are domain
// errors (src/registry/model-errors.ts, src/scheduler/admission-errors.ts, context-budget.ts).
import type { ModelConfig } from '../config/schema.js';
import type {
  ChatCapability,
  ChatMessage,
  ChatPromptOptions,
  GenerationEvent,
  GenerationOptions,
  GenerationResult,
  LoadedModelInfo,
  ModelType,
  PreparedPrompt,
  TextCompletionCapability,
} from '../engine/contract.js';
import { chatPartField } from '../engine/contract.js';
import { UnsupportedFeatureError } from '../engine/errors.js';
import type { ModelEntry, ModelLease, ModelRegistry } from '../registry/model-registry.js';

/** A configured model as listings show it (its status, config and loaded engine's info). */
export type { ModelEntry } from '../registry/model-registry.js';
import { ModelCapabilityError, ModelNotFoundError, ModelNotNamedError, ModelNotPermittedError, ModelTypeMismatchError } from '../registry/model-errors.js';
import type { SlotScheduler } from '../scheduler/slot-scheduler.js';
import { resolveMaxTokens } from './context-budget.js';
import { embeddingCalls, type EmbeddingCalls } from './embedding-calls.js';

/** Which model a call is for, and who asks. */
export interface ModelRequest {
  /** The name the client gave (an id or an alias); undefined: the one model that can serve. */
  name: string | undefined;
  /** The model types that can serve the call. */
  accepted: readonly ModelType[];
  /** The endpoint a message names ("cannot serve /v1/embeddings"). */
  endpoint: string;
  /** Whether the caller may use a model known by these names (its key's permission); default: any. */
  permits?: (names: readonly string[]) => boolean;
}

/** The choices of one generation request: several prompts (completions) × `choicesPerPrompt` (`n`). */
export interface GenerationRequest {
  /** Prompts this handle prepared. */
  prompts: readonly PreparedPrompt[];
  choicesPerPrompt: number;
  /** The same for every choice; choice i of a prompt gets `seed + i` (n choices of one seed would be n copies). */
  options: Omit<GenerationOptions, 'signal' | 'onEvent'>;
  signal: AbortSignal;
  /** Called once, when the request got its first slot, with the time it waited in the queue. */
  onAdmitted?(waitedMs: number): void;
  /** Called for each choice (index = prompt × choicesPerPrompt + choice) once it holds a slot, before it generates. */
  onChoiceStart?(index: number): void | Promise<void>;
  /** The choice's engine events; a promise holds its generation back until it settles. */
  onEvent?(index: number, event: GenerationEvent): void | Promise<void>;
  /** Called when a choice ended, still holding its slot (so a reader that is behind holds the slot too). */
  onChoiceEnd?(index: number, result: GenerationResult): void | Promise<void>;
}

export interface ModelHandle extends Omit<EmbeddingCalls, 'prepare'> {
  readonly id: string;
  readonly type: ModelType;
  readonly config: ModelConfig;
  readonly info: LoadedModelInfo;
  /** True when prompt token counts are estimates (a remote model): the results' counts are exact. */
  readonly promptTokensAreEstimates: boolean;
  /** The registry lease the handle holds (the HTTP layer gives it back when the response is over). */
  readonly lease: ModelLease;
  /** Renders the conversation (and its tools) with the model's template and tokenizes it, once. */
  prepareChat(messages: ChatMessage[], options?: ChatPromptOptions): Promise<PreparedPrompt>;
  /** Tokenizes a raw prompt (with `suffix`: a fill-in-the-middle prompt), once. */
  prepareText(prompt: string, suffix?: string): Promise<PreparedPrompt>;
  /** The tokens a completion may take: `requested`, or the default, within the context the prompt leaves (ContextLengthError). */
  maxTokensFor(promptTokens: number, requested: number | undefined, defaultMaxTokens: number | undefined): number;
  /** Runs every choice of a request, admitted as one request; results in index order. */
  generate(request: GenerationRequest): Promise<GenerationResult[]>;
  /** Tokenizes each embedding input once (see EmbeddingCalls.prepare); then `embed`. */
  prepareEmbeddings: EmbeddingCalls['prepare'];
  /** Gives the lease back; later calls are not allowed. */
  release(): void;
}

/** A caller's permission (see ModelRequest.permits); undefined: every model. */
export type ModelPermission = ModelRequest['permits'];

/** Whether the caller may use `entry`: the one rule that decides both what a caller sees and what it may call. */
function permitted(entry: ModelEntry, permission: ModelPermission): boolean {
  return permission?.([entry.id, ...entry.config.aliases]) ?? true;
}

/** The models the caller may use, as listings show them. */
export function listModels(registry: ModelRegistry, permission: ModelPermission): ModelEntry[] {
  return registry.list().filter((entry) => permitted(entry, permission));
}

/** The model `name` (an id or an alias) names, when the caller may use it: one it may not is not there for it. */
export function visibleModel(registry: ModelRegistry, name: string, permission: ModelPermission): ModelEntry | undefined {
  const entry = registry.find(name);
  return entry && permitted(entry, permission) ? entry : undefined;
}

/** The model a request names, checked against the caller's permission and the accepted types. */
export function findModel(registry: ModelRegistry, request: ModelRequest): ModelEntry {
  const permits = (entry: ModelEntry) => permitted(entry, request.permits);
  let name = request.name;
  if (name === undefined) {
    const candidates = registry.list().filter((entry) => request.accepted.includes(entry.type) && permits(entry));
    if (candidates.length !== 1)
      throw new ModelNotNamedError(
        request.endpoint,
        candidates.map((entry) => entry.id),
      );
    name = candidates[0].id;
  }
  const entry = registry.find(name);
  if (!entry) throw new ModelNotFoundError(name);
  if (!permits(entry)) throw new ModelNotPermittedError(name);
  if (!request.accepted.includes(entry.type)) throw new ModelTypeMismatchError(entry.id, entry.type, request.endpoint);
  return entry;
}

/** Finds the model and leases it (loading it first when it is not loaded). The lease must be released. */
export async function leaseModel(registry: ModelRegistry, request: ModelRequest): Promise<ModelLease> {
  return await registry.acquire(findModel(registry, request).id);
}

/** Finds the model, leases it and returns the handle its calls go through. */
export async function openModel(registry: ModelRegistry, request: ModelRequest): Promise<ModelHandle> {
  return handleOf(await leaseModel(registry, request));
}

export function handleOf(lease: ModelLease): ModelHandle {
  const { entry, model, scheduler } = lease;
  // A prepared prompt goes back to the capability that prepared it (a chat model also completes text).
  const generators = new WeakMap<PreparedPrompt, Generator>();
  const embeddings = embeddingCalls(lease);
  const prepared = async (generator: Generator, preparing: Promise<PreparedPrompt>) => {
    const prompt = await preparing;
    generators.set(prompt, generator);
    return prompt;
  };
  return {
    id: entry.id,
    type: entry.type,
    config: entry.config,
    info: model.info,
    promptTokensAreEstimates: model.promptTokensAreEstimates === true,
    lease,
    prepareChat: (messages, options) => {
      const chat = chatOf(lease);
      if (chat.acceptsImages !== true) refuseImages(entry.id, messages);
      if (chat.acceptsTools !== true) refuseTools(entry.id, messages, options);
      return prepared(chat, options === undefined ? chat.prepareChat(messages) : chat.prepareChat(messages, options));
    },
    prepareText: (prompt, suffix) => {
      const text = textOf(lease);
      return prepared(text, text.prepareText(prompt, { suffix }));
    },
    maxTokensFor: (promptTokens, requested, defaultMaxTokens) =>
      resolveMaxTokens({ promptTokens, requested, defaultMaxTokens, contextLength: model.info.contextLength }),
    generate: (request) =>
      generateChoices(scheduler, request, (prompt) => {
        const generator = generators.get(prompt);
        if (!generator) throw new TypeError('generate takes prompts this handle prepared');
        return generator;
      }),
    embeddingLimits: embeddings.embeddingLimits,
    rerankLimits: embeddings.rerankLimits,
    prepareEmbeddings: embeddings.prepare,
    embed: embeddings.embed,
    rerank: embeddings.rerank,
    release: () => lease.release(),
  };
}

type Generator = ChatCapability | TextCompletionCapability;

/**
 * The one refusal of images for a model that does not take them (the in-process engine, ONNX, a
 * llama-server model without a vision projector): engines that know nothing of images never see
 * one, so none can drop it silently.
 */
function refuseImages(modelId: string, messages: readonly ChatMessage[]): void {
  messages.forEach((message, messageIndex) => {
    const partIndex = message.parts?.findIndex((part) => part.type === 'image') ?? -1;
    if (partIndex >= 0)
      throw new UnsupportedFeatureError(
        `Model '${modelId}' does not accept image input: images are taken by llama-server models with a vision projector (mmproj) and by remote models whose upstream takes them.`,
        chatPartField(messageIndex, partIndex),
      );
  });
}

/**
 * The one refusal of tools for an engine that does not take them: neither the request's tools nor
 * a history of calls and results reaches it, so none can drop them silently.
 */
function refuseTools(modelId: string, messages: readonly ChatMessage[], options: ChatPromptOptions | undefined): void {
  const reason = `Model '${modelId}' does not support tool calling on its engine`;
  if (options?.tools !== undefined) throw new UnsupportedFeatureError(`${reason}: 'tools' cannot be used with it.`, 'tools');
  messages.forEach((message, messageIndex) => {
    if (message.toolCalls !== undefined || message.toolCallId !== undefined)
      throw new UnsupportedFeatureError(`${reason}: the conversation's tool calls and results cannot be rendered for it.`, `messages[${messageIndex}]`);
  });
}

function chatOf({ entry, model }: ModelLease): ChatCapability {
  if (!model.chat) throw new ModelCapabilityError(entry.id, 'chat');
  return model.chat;
}

function textOf({ entry, model }: ModelLease): TextCompletionCapability {
  if (!model.textCompletion) throw new ModelCapabilityError(entry.id, 'complete text');
  return model.textCompletion;
}

async function generateChoices(
  scheduler: SlotScheduler,
  request: GenerationRequest,
  generatorOf: (prompt: PreparedPrompt) => Generator,
): Promise<GenerationResult[]> {
  // One failing choice stops its siblings: the response cannot be completed anyway.
  const siblings = new AbortController();
  const signal = AbortSignal.any([request.signal, siblings.signal]);
  let failure: { error: unknown } | undefined;
  const started = performance.now();
  const admission = await scheduler.admit(signal);
  const choices = request.prompts.flatMap((prompt, promptIndex) =>
    Array.from({ length: request.choicesPerPrompt }, (_, choice) => ({ prompt, choice, index: promptIndex * request.choicesPerPrompt + choice })),
  );
  const fail = (error: unknown): never => {
    failure ??= { error };
    siblings.abort();
    throw error;
  };
  try {
    request.onAdmitted?.(performance.now() - started);
    // Every choice settles before the request's slots go back: a sibling still in the engine after
    // the first failure holds its slot until it has stopped, so the next request is not admitted
    // into a sequence that is still busy.
    const settled = await Promise.allSettled(
      choices.map(({ prompt, choice, index }) =>
        admission
          .run(signal, async (runSignal) => {
            try {
              await request.onChoiceStart?.(index);
              const seed = request.options.seed === undefined ? undefined : request.options.seed + choice;
              const result = await generatorOf(prompt).generate(prompt, {
                ...request.options,
                seed,
                signal: runSignal,
                onEvent: request.onEvent && ((event) => request.onEvent!(index, event)),
              });
              await request.onChoiceEnd?.(index, result);
              return result;
            } catch (error) {
              // Before the slot passes on: the next choice must not start.
              return fail(error);
            }
          })
          .catch(fail),
      ),
    );
    // The siblings' AbortErrors may settle first: the request failed for the first failure.
    if (failure !== undefined) throw failure.error;
    return settled.map((outcome) => (outcome as PromiseFulfilledResult<GenerationResult>).value);
  } finally {
    scheduler.end(admission);
  }
}
