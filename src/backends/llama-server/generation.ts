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
import { postStream } from './server-wire.js';
import { detokenizeOnServer } from './tokenizer.js';

/** A prompt of a llama-server model, tokenized once (see `serverPrompt`). */
export interface ServerPrompt extends PreparedPrompt {
  /** The prompt as the model sees it, sent as token ids so that the server renders and tokenizes nothing again. */
  tokens: number[];
  /** Fill-in-the-middle: prefix and suffix tokens for /infill, which adds the FIM tokens itself. */
  infill?: { prefix: number[]; suffix: number[] };
  /** Chat replies start at the first non-blank character; raw completions keep every character. */
  trimLeadingWhitespace: boolean;
}

/** Prompts made here: `generate` takes no other (a prompt of another model has other tokens). */
const madeHere = new WeakSet<PreparedPrompt>();

export function serverPrompt(prompt: ServerPrompt): ServerPrompt {
  madeHere.add(prompt);
  return prompt;
}

function asServerPrompt(prompt: PreparedPrompt): ServerPrompt {
  if (!madeHere.has(prompt)) throw new TypeError('this prompt was not prepared by a llama-server model');
  return prompt as ServerPrompt;
}

export interface ServerGenerationSettings {
  /** Tokens one slot holds: prompt and completion together. */
  contextLength: number;
  vocabularySize: number;
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
    stop: options.stop,
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

function finishReasonOf(stopType: unknown): FinishReason {
  return stopType === 'limit' ? 'length' : 'stop';
}

export async function generateOnServer(
  connection: LlamaServerConnection,
  settings: ServerGenerationSettings,
  prepared: PreparedPrompt,
  options: GenerationOptions,
): Promise<GenerationResult> {
  const prompt = asServerPrompt(prepared);
  options.signal.throwIfAborted();
  assertPromptFits(prompt.promptTokens, settings.contextLength);
  if (options.maxTokens <= 0) return await reportEnd(options, { text: '', finishReason: 'length', promptTokens: prompt.promptTokens, completionTokens: 0 });
  const body = {
    ...(prompt.infill === undefined ? { prompt: prompt.tokens } : { input_prefix: prompt.infill.prefix, input_suffix: prompt.infill.suffix, prompt: '' }),
    n_predict: Math.min(options.maxTokens, settings.contextLength - prompt.promptTokens),
    stream: true,
    cache_prompt: true,
    ...samplingFields(options, settings),
  };
  const logprobs = options.topLogprobs === undefined ? undefined : new LogprobCollector(options.topLogprobs);

  let text = '';
  let leadingTrimmed = 0;
  const emit = (piece: string): void | Promise<void> => {
    let released = piece;
    if (prompt.trimLeadingWhitespace && text === '') {
      released = piece.trimStart();
      leadingTrimmed += piece.length - released.length;
    }
    if (released === '') return;
    text += released;
    return options.onEvent?.({ type: 'text', text: released });
  };

  // Closes the connection when reading stops early (a client gone, a failure): llama-server then cancels the task.
  const closing = new AbortController();
  const signal = AbortSignal.any([options.signal, closing.signal]);
  let generated = 0;
  let started = false;
  let final: Record<string, unknown> | undefined;
  // Tokens whose text the server holds back (the start of a possible stop string) since the last text it released.
  let heldTokens: number[] = [];
  try {
    await postStream(connection, prompt.infill === undefined ? '/completion' : '/infill', body, signal, (frame) => {
      // A client gone: its abort closes the connection, which makes the server cancel the task; frames read meanwhile are dropped.
      if (options.signal.aborted) return;
      started = true;
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
      // Backpressure: a promise while the client's reader is behind; no frame is handed on until it settles.
      return emit(content);
    });
  } catch (error) {
    if (!options.signal.aborted || !started) throw error;
  } finally {
    if (final === undefined) closing.abort();
  }

  const finishReason = final === undefined ? 'stop' : finishReasonOf(final.stop_type);
  // At the token limit the server drops the text it was holding back for a possible stop string;
  // that text is plain output (the in-process engine releases it too).
  if (finishReason === 'length' && heldTokens.length > 0) await emit(await detokenizeOnServer(connection, heldTokens));

  const timings = final?.timings as { cache_n?: unknown } | undefined;
  return await reportEnd(options, {
    text,
    finishReason,
    promptTokens: typeof final?.tokens_evaluated === 'number' ? final.tokens_evaluated : prompt.promptTokens,
    completionTokens: typeof final?.tokens_predicted === 'number' ? final.tokens_predicted : generated,
    ...(typeof timings?.cache_n === 'number' ? { cachedPromptTokens: timings.cache_n } : {}),
    ...(logprobs === undefined ? {} : { logprobs: await logprobs.entries(connection, leadingTrimmed + text.length) }),
  });
}
