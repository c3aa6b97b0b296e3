// The generation loop of chat and text completion on llama-server: a prompt of tokens (made once
// by prepareChat/prepareText) goes to the native /completion (or /infill) endpoint, always as a
// stream, whatever the client asked: the frames become typed events as they arrive, and a client
// that leaves aborts the request, whose closed connection makes llama-server cancel the task.
//
// Abort, as the in-process engine: before the first frame the call rejects with the signal's
// reason; once text flows it resolves with what was generated so far and finishReason "stop".
import type { FinishReason, GenerationOptions, GenerationResult, OutputConstraint, PreparedPrompt, TokenLogprob } from '../../engine/contract.js';
import { InvalidInputError, UnsupportedFeatureError } from '../../engine/errors.js';
import { checkGrammar } from '../llama/grammar-checks.js';
import { assertTokensInVocabulary, resolveSeed } from '../llama/sampling.js';
import { assertPromptFits, reportEnd } from '../../engine/generation-end.js';
import type { LlamaServerConnection } from './connection.js';
import type { MediaPrompt } from './image-prompt.js';
import { TokenWatchdog } from './token-watchdog.js';
import { postStream } from './server-wire.js';
import { detokenizeOnServer, tokenizeOnServer } from './tokenizer.js';
import { ReplyWriter, thinkingBudget, thoughtClosing, type PromptThought, type ThoughtMarkers } from '../thought-segments.js';

/** A prompt of a llama-server model, tokenized once (see `serverPrompt`). */
export interface ServerPrompt extends PreparedPrompt {
  /** The prompt as the model sees it, sent as token ids so that the server renders and tokenizes nothing again. */
  tokens: number[];
  /** A chat with images (image-prompt.ts): sent as text and images, which the server tokenizes; `tokens` is then empty. */
  media?: MediaPrompt;
  /** Fill-in-the-middle: prefix and suffix tokens for /infill, which adds the FIM tokens itself. */
  infill?: { prefix: number[]; suffix: number[] };
  /** Chat replies start at the first non-blank character; raw completions keep every character. */
  trimLeadingWhitespace: boolean;
  /** The template's thinking segment: the reply is split into thought and answer. */
  thought?: PromptThought;
}

/** Prompts made here: `generate` takes no other (a prompt of another model has other tokens). */
const madeHere = new WeakSet<PreparedPrompt>();

export function serverPrompt(prompt: ServerPrompt): ServerPrompt {
  madeHere.add(prompt);
  return prompt;
}

export function asServerPrompt(prompt: PreparedPrompt): ServerPrompt {
  if (!madeHere.has(prompt)) throw new TypeError('this prompt was not prepared by a llama-server model');
  return prompt as ServerPrompt;
}

export interface ServerGenerationSettings {
  /** Tokens one slot holds: prompt and completion together. */
  contextLength: number;
  vocabularySize: number;
  /** The model's `max_token_seconds`: the longest wait for the next token once the first came (the load always sets it). */
  maxTokenSeconds?: number;
  /** The chat template's thinking segment, on a model whose template has one. */
  thinking?: ServerThinking;
}

export interface ServerThinking {
  markers: ThoughtMarkers;
  /** The model's `max_thinking_tokens` (undefined: no limit). */
  maxThinkingTokens?: number;
}

/**
 * The thought budget as llama-server's reasoning-budget sampler takes it on /completion: it counts
 * the tokens after the start marker and, once they are spent, forces the end marker (the empty
 * message adds nothing before it). A thought the prompt opened is shown to it as `generation_prompt`,
 * whose tokens it matches against the start marker's. Both are tokenized alone, and a SentencePiece
 * vocabulary writes a space token before a text that starts with a character but drops it from a
 * generation prompt: a start marker after a newline tokenizes the same way in both.
 */
function thoughtBudgetFields(thought: PromptThought, budget: number | undefined): Record<string, unknown> {
  if (budget === undefined) return {};
  const start = thought.opensInThought ? `\n${thought.markers.start}` : thought.markers.start;
  return {
    reasoning_budget_tokens: budget,
    reasoning_budget_start_tag: start,
    reasoning_budget_end_tags: [thought.markers.end],
    reasoning_budget_message: '',
    ...(thought.opensInThought ? { generation_prompt: start } : {}),
  };
}

/**
 * The prompt followed by text that continues the reply (the model's own text before a tool call,
 * or the closing of a thought), tokenized as the server tokenizes the model's output. What the
 * text leaves of the template's thought is not known here, so the result has none.
 */
export async function promptFollowedBy(connection: LlamaServerConnection, prompt: ServerPrompt, text: string): Promise<ServerPrompt> {
  const added = await tokenizeOnServer(connection, text, { addSpecial: false, parseSpecial: true });
  const { thought: _left, ...rest } = prompt;
  const promptTokens = prompt.promptTokens + added.length;
  if (prompt.media !== undefined) return serverPrompt({ ...rest, media: { ...prompt.media, text: prompt.media.text + text }, promptTokens });
  return serverPrompt({ ...rest, tokens: [...prompt.tokens, ...added], promptTokens });
}

/** llama.cpp's window for repeat, presence and frequency penalties (the in-process engine's too). */
const PENALTY_WINDOW = 64;
/** The logprob reported for a probability of 0 (JSON has no -Infinity). */
const LOGPROB_FLOOR = -9999;

function constraintFields(constraint: OutputConstraint | undefined): Record<string, unknown> {
  if (constraint === undefined) return {};
  if (constraint.kind === 'json_object') return { json_schema: { type: 'object' } };
  if (constraint.kind === 'json_schema') return { json_schema: constraint.schema };
  // A grammar llama.cpp cannot parse or that would stall it is refused here, as on the in-process
  // engine: the server would only log the parser's complaint, and some grammars crash it.
  if (!/^\s*root\s*::=/m.test(constraint.grammar)) throw new UnsupportedFeatureError('invalid GBNF grammar: it has no "root ::= ..." rule', 'grammar');
  const verdict = checkGrammar(constraint.grammar, 'gbnf');
  if (verdict.kind === 'invalid') throw new UnsupportedFeatureError(`invalid GBNF grammar: ${verdict.reason}`, 'grammar');
  if (verdict.kind === 'too-costly') throw new InvalidInputError(`The grammar was refused: ${verdict.reason}.`, 'grammar');
  return { grammar: constraint.grammar };
}

/**
 * GenerationOptions → /completion fields. Unset top_k/top_p/min_p are llama.cpp's library
 * defaults (40, 0.95, 0), the in-process engine's, not the server's min_p of 0.05; logprobs are
 * those of the model's own distribution (the softmax of its logits), as OpenAI reports them: the
 * sampler's (`post_sampling_probs`) hold fewer than `top_logprobs` candidates once top_k, top_p or
 * a temperature of 0 has cut them.
 */
export function samplingFields(options: GenerationOptions, settings: ServerGenerationSettings): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    temperature: Math.max(0, options.temperature),
    top_k: options.topK ?? 40,
    top_p: options.topP ?? 0.95,
    min_p: options.minP ?? 0,
    seed: resolveSeed(options.seed),
    repeat_penalty: options.repeatPenalty ?? 1,
    presence_penalty: options.presencePenalty ?? 0,
    frequency_penalty: options.frequencyPenalty ?? 0,
    repeat_last_n: PENALTY_WINDOW,
    ...constraintFields(options.constraint),
  };
  if (options.logitBias !== undefined) {
    const entries = Object.entries(options.logitBias).map(([token, bias]) => [Number(token), bias] as const);
    assertTokensInVocabulary(
      entries.map(([token]) => token),
      settings.vocabularySize,
      'logitBias',
    );
    // `false` bans a token outright (end-of-generation tokens included), as -100 does in OpenAI's API.
    fields.logit_bias = entries.map(([token, bias]) => [token, bias <= -100 ? false : bias]);
  }
  if (options.topLogprobs !== undefined) {
    // The chosen token's probability comes only with n_probs ≥ 1.
    fields.n_probs = Math.max(1, Math.floor(options.topLogprobs));
  }
  return fields;
}

interface ProbabilityFrame {
  id: number;
  token: string;
  logprob: number | null;
  top_logprobs?: Array<{ id: number; token: string; logprob: number | null }>;
}

function logprobOf(logprob: number | null): number {
  return logprob !== null && Number.isFinite(logprob) ? Math.max(logprob, LOGPROB_FLOOR) : LOGPROB_FLOOR;
}

/**
 * The per-token probabilities of a stream. A frame's `token` is the text the server released with
 * that token (empty while a possible stop string is held back), so each token's own piece is taken
 * from the candidates, where the chosen one usually is, or asked of the server at the end.
 */
class LogprobCollector {
  readonly #top: number;
  readonly #steps: ProbabilityFrame[] = [];
  readonly #pieces = new Map<number, string>();

  constructor(top: number) {
    this.#top = Math.max(0, Math.floor(top));
  }

  record(frame: ProbabilityFrame): void {
    this.#steps.push(frame);
    for (const candidate of frame.top_logprobs ?? []) this.#pieces.set(candidate.id, candidate.token);
  }

  /** Entries of the tokens whose text starts inside the returned text (`end` characters): not those of a stop string. */
  async entries(connection: LlamaServerConnection, end: number): Promise<TokenLogprob[]> {
    const missing = [...new Set(this.#steps.map((step) => step.id).filter((id) => !this.#pieces.has(id)))];
    const pieces = await Promise.all(missing.map((id) => detokenizeOnServer(connection, [id])));
    missing.forEach((id, index) => this.#pieces.set(id, pieces[index]));
    const entries: TokenLogprob[] = [];
    let offset = 0;
    for (const step of this.#steps) {
      if (offset >= end) break;
      const token = this.#pieces.get(step.id) ?? '';
      entries.push({
        token,
        logprob: logprobOf(step.logprob),
        topLogprobs: (step.top_logprobs ?? []).slice(0, this.#top).map((candidate) => ({ token: candidate.token, logprob: logprobOf(candidate.logprob) })),
      });
      offset += token.length;
    }
    return entries;
  }
}

/** /completion's `prompt`: the token ids, or for a prompt with images the text and images the server tokenizes. */
function promptField(prompt: ServerPrompt): number[] | { prompt_string: string; multimodal_data: string[] } {
  return prompt.media === undefined ? prompt.tokens : { prompt_string: prompt.media.text, multimodal_data: prompt.media.images };
}

function finishReasonOf(stopType: unknown): FinishReason {
  return stopType === 'limit' ? 'length' : 'stop';
}

/**
 * How one /completion request differs from a plain generation (tool calls run in phases, see
 * tool-calls.ts). Default: the request's own stops and constraint.
 */
export interface ServerPhase {
  /** Stop strings besides the request's (a tool call's opening). */
  extraStops?: readonly string[];
  /**
   * The gateway's own grammar (a reply made of tool calls): used instead of the request's
   * constraint, with no stop strings (a grammar-bound call must not be cut inside a string) and no
   * whitespace trimmed; timed per token like any constrained generation.
   */
  grammar?: string;
  /** Texts of special tokens to keep in the generated text (the call syntax's markers); the server drops special tokens' text otherwise. */
  preservedTokens?: readonly string[];
}

export interface ServerPhaseOutcome {
  /** The phase's result; its closing events are not yet reported (see reportEnd). */
  result: GenerationResult;
  /** All the text the server sent, leading whitespace included (stop strings are never part of it). */
  rawText: string;
  /** The stop string that ended the phase, if one did. */
  stoppingWord?: string;
}

export async function generateOnServer(
  connection: LlamaServerConnection,
  settings: ServerGenerationSettings,
  prepared: PreparedPrompt,
  options: GenerationOptions,
): Promise<GenerationResult> {
  const run = await runOnServer(connection, settings, asServerPrompt(prepared), options);
  return await reportEnd(options, run.result);
}

/** One /completion (or /infill) request, streamed, without the closing events. */
export async function runOnServer(
  connection: LlamaServerConnection,
  settings: ServerGenerationSettings,
  prompt: ServerPrompt,
  options: GenerationOptions,
  phase: ServerPhase = {},
): Promise<ServerPhaseOutcome> {
  options.signal.throwIfAborted();
  // A grammar leaves no room for a thought: one the template opened is closed, empty, before a constrained reply (all answer).
  const constrained = options.constraint !== undefined || phase.grammar !== undefined;
  if (constrained && prompt.thought?.opensInThought === true) prompt = await promptFollowedBy(connection, prompt, thoughtClosing(prompt.thought.markers));
  assertPromptFits(prompt.promptTokens, settings.contextLength);
  if (options.maxTokens <= 0) return { result: { text: '', finishReason: 'length', promptTokens: prompt.promptTokens, completionTokens: 0 }, rawText: '' };
  const sampling = samplingFields(options, settings);
  const thought = constrained ? undefined : prompt.thought;
  const body = {
    ...(prompt.infill === undefined ? { prompt: promptField(prompt) } : { input_prefix: prompt.infill.prefix, input_suffix: prompt.infill.suffix, prompt: '' }),
    n_predict: Math.min(options.maxTokens, settings.contextLength - prompt.promptTokens),
    stream: true,
    cache_prompt: prompt.media?.cacheable ?? true,
    ...sampling,
    ...(thought === undefined
      ? {}
      : thoughtBudgetFields(thought, thinkingBudget(options.reasoningEffort, settings.thinking?.maxThinkingTokens, options.thinkingTokens))),
    ...(phase.grammar === undefined ? { stop: [...options.stop, ...(phase.extraStops ?? [])] } : { stop: [], grammar: phase.grammar }),
    ...(phase.preservedTokens === undefined || phase.preservedTokens.length === 0 ? {} : { preserved_tokens: phase.preservedTokens }),
  };
  const trimLeadingWhitespace = prompt.trimLeadingWhitespace && phase.grammar === undefined;
  const logprobs = options.topLogprobs === undefined ? undefined : new LogprobCollector(options.topLogprobs);

  const reply = new ReplyWriter(thought, options.onEvent);
  // Everything generated, as generated (markers and leading whitespace included): a tool reply continues from it.
  let rawText = '';
  let released = 0;
  let leadingTrimmed = 0;
  const emit = (piece: string): void | Promise<void> => {
    rawText += piece;
    let output = piece;
    if (trimLeadingWhitespace && released === 0) {
      output = piece.trimStart();
      leadingTrimmed += piece.length - output.length;
    }
    if (output === '') return;
    released += output.length;
    return reply.write(output);
  };

  // Closes the connection when reading stops early (a client gone, a failure): llama-server then cancels the task.
  const closing = new AbortController();
  const signal = AbortSignal.any([options.signal, closing.signal]);
  let generated = 0;
  let started = false;
  let final: Record<string, unknown> | undefined;
  // Tokens whose text the server holds back (the start of a possible stop string) since the last text it released.
  let heldTokens: number[] = [];
  // Only a constrained generation is timed per token: llama-server samples every slot in one loop, so
  // a grammar whose cost multiplies slows every stream's tokens alike, and only the request that
  // brought a grammar is the one to stop (an unconstrained one is bounded by max_generation_seconds).
  const tokenLimitSeconds = constrained ? (settings.maxTokenSeconds ?? Infinity) : Infinity;
  const watchdog = new TokenWatchdog(tokenLimitSeconds, (error) => closing.abort(error));
  try {
    await postStream(connection, prompt.infill === undefined ? '/completion' : '/infill', body, signal, (frame) => {
      // A client gone: its abort closes the connection, which makes the server cancel the task; frames read meanwhile are dropped.
      if (options.signal.aborted) return;
      started = true;
      watchdog.disarm();
      if (frame.stop === true) {
        final = frame;
        return;
      }
      const tokens = Array.isArray(frame.tokens) ? (frame.tokens as number[]) : [];
      if (tokens.length === 0) return;
      generated += tokens.length;
      if (logprobs !== undefined) for (const step of (frame.completion_probabilities as ProbabilityFrame[] | undefined) ?? []) logprobs.record(step);
      const content = typeof frame.content === 'string' ? frame.content : '';
      if (content === '') heldTokens.push(...tokens);
      else if (heldTokens.length > 0) heldTokens = [];
      // Backpressure: a promise while the client's reader is behind; no frame is handed on until it
      // settles. The next token is timed from then on: waiting for a slow reader is not the engine's.
      const readerBehind = emit(content);
      if (readerBehind === undefined) return watchdog.arm();
      return Promise.resolve(readerBehind).then(() => watchdog.arm());
    });
  } catch (error) {
    if (watchdog.fired !== undefined) throw watchdog.fired;
    if (!options.signal.aborted || !started) throw error;
  } finally {
    watchdog.disarm();
    if (final === undefined) closing.abort();
  }

  const finishReason = final === undefined ? 'stop' : finishReasonOf(final.stop_type);
  // At the token limit the server drops the text it was holding back for a possible stop string;
  // that text is plain output (the in-process engine releases it too).
  if (finishReason === 'length' && heldTokens.length > 0) await emit(await detokenizeOnServer(connection, heldTokens));
  await reply.finish();

  const timings = final?.timings as { cache_n?: unknown } | undefined;
  const result: GenerationResult = {
    text: reply.text,
    ...(reply.reasoning !== '' ? { reasoning: reply.reasoning } : {}),
    finishReason,
    // llama-server names the stop string that ended the reply; only the request's own are reported.
    ...(finishReason === 'stop' && typeof final?.stopping_word === 'string' && options.stop.includes(final.stopping_word)
      ? { stopSequence: final.stopping_word }
      : {}),
    promptTokens: typeof final?.tokens_evaluated === 'number' ? final.tokens_evaluated : prompt.promptTokens,
    completionTokens: typeof final?.tokens_predicted === 'number' ? final.tokens_predicted : generated,
    ...(typeof timings?.cache_n === 'number' ? { cachedPromptTokens: timings.cache_n } : {}),
    ...(logprobs === undefined ? {} : { logprobs: await logprobs.entries(connection, leadingTrimmed + released) }),
  };
  return { result, rawText, ...(typeof final?.stopping_word === 'string' && final.stopping_word !== '' ? { stoppingWord: final.stopping_word } : {}) };
}
