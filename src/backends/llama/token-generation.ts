// The generation loop shared by chat and text completion: one prompt of tokens in, text out, on a
// sequence lent from the pool. It works token by token on the sequence rather than through
// LlamaChat/LlamaCompletion so that prompt and completion token counts are exact, stop strings are
// held back while streaming, and token probabilities are at hand for logprobs.
//
// Abort: a call aborted before it holds a sequence rejects with the signal's reason. Once
// generation has started it resolves promptly (after the token in flight) with what was generated
// so far and finishReason "stop"; the caller tells the two apart by `signal.aborted`, and can still
// charge the tokens that were spent.
import { assertPromptFits, reportEnd } from '../../engine/generation-end.js';
import { LlamaGrammarEvaluationState, type LlamaGrammar, type LlamaContextSequence, type LlamaModel, type Token } from 'node-llama-cpp';
import type { FinishReason, GenerationOptions, GenerationResult, PreparedPrompt, TokenLogprob } from '../../engine/contract.js';
import type { DecodeRounds } from './decode-rounds.js';
import type { GrammarCompiler } from './grammar.js';
import { samplerOptions } from './sampling.js';
import type { SequencePool } from './sequence-pool.js';
import { StopStringHoldback } from './stop-string-holdback.js';
import { TokenStepTimer } from './token-step-timer.js';
import { TokenTextDecoder } from './token-text-decoder.js';
import { ReplyWriter, thinkingBudget, thoughtClosing, type PromptThought } from '../thought-segments.js';

export interface GenerationEngine {
  model: LlamaModel;
  pool: SequencePool;
  /** Lines up the generating sequences so that each step decodes all of them in one batch. */
  rounds: DecodeRounds;
  grammars: GrammarCompiler;
  /** Tokens one sequence holds: prompt plus completion. */
  contextSize: number;
  vocabularySize: number;
  /** A step (a token after the first) that took longer than this ends its generation (`max_token_seconds`). */
  maxTokenMs: number;
  /** The model's `max_thinking_tokens` (undefined: no limit). */
  maxThinkingTokens?: number;
}

/** A prompt of a llama.cpp model, rendered and tokenized once (see `llamaPrompt`). */
export interface LlamaPrompt extends PreparedPrompt {
  tokens: Token[];
  /** Stop strings of the chat template, besides the request's own. */
  templateStops: readonly string[];
  /** Special tokens that end the reply without being end-of-generation tokens of the vocabulary. */
  stopTokens: ReadonlySet<Token>;
  /** Chat replies start at the first non-blank character; raw completions keep every character. */
  trimLeadingWhitespace: boolean;
  /** The template's thinking segment: the reply is split into thought and answer. */
  thought?: PromptThought;
}

/** Prompts this engine made: `generate` takes no other (a prompt of another model has other tokens). */
const madeHere = new WeakSet<PreparedPrompt>();

export function llamaPrompt(parts: Omit<LlamaPrompt, 'promptTokens'>): LlamaPrompt {
  const prompt: LlamaPrompt = { ...parts, promptTokens: parts.tokens.length };
  madeHere.add(prompt);
  return prompt;
}

function asLlamaPrompt(prompt: PreparedPrompt): LlamaPrompt {
  if (!madeHere.has(prompt)) throw new TypeError('this prompt was not prepared by a llama.cpp model');
  return prompt as LlamaPrompt;
}

interface GeneratedStep {
  token: Token;
  probabilities?: Map<Token, number>;
  confidence?: number;
}

export async function generateFromPrompt(engine: GenerationEngine, prepared: PreparedPrompt, options: GenerationOptions): Promise<GenerationResult> {
  const prompt = asLlamaPrompt(prepared);
  options.signal.throwIfAborted();
  assertPromptFits(prompt.tokens.length, engine.contextSize);
  if (options.maxTokens <= 0) return await reportEnd(options, { text: '', finishReason: 'length', promptTokens: prompt.tokens.length, completionTokens: 0 });
  // Compiled before taking a sequence, so that a bad grammar costs no slot.
  const grammar = options.constraint === undefined ? undefined : await engine.grammars.compile(options.constraint);
  const run = await runPhase(engine, prompt, options, { grammar });
  return await reportEnd(options, run.result);
}

/** How one run of the loop differs from a plain generation (tool calls run it in phases). */
export interface PhaseSettings {
  grammar?: LlamaGrammar;
  /** Stop strings besides the request's and the template's (a tool call's opening). */
  extraStops?: readonly string[];
  /**
   * A tool reply's calls: no stop strings (a grammar-bound call must not be cut inside a string),
   * and no leading whitespace trimmed (their text is read as the call syntax, whose opening may
   * start with whitespace: Harmony's ` to=functions.`).
   */
  callPhase?: boolean;
}

export interface PhaseOutcome {
  /** The phase's result; its closing events are not yet reported (see reportEnd). */
  result: GenerationResult;
  /** All the text the phase decoded, stop strings included (which stop fired is read from it). */
  rawText: string;
}

/**
 * A grammar leaves no room for a thought: a prompt whose template opened one gets it closed, empty,
 * before a constrained reply, which is then all answer (else the grammar's text would be the thought).
 */
function closedForGrammar(model: LlamaModel, prompt: LlamaPrompt): LlamaPrompt {
  if (prompt.thought?.opensInThought !== true) return prompt;
  // The template's own text: its markers are special tokens where the vocabulary has them.
  const closing = model.tokenize(thoughtClosing(prompt.thought.markers), true);
  const { templateStops, stopTokens, trimLeadingWhitespace } = prompt;
  return llamaPrompt({ tokens: [...prompt.tokens, ...closing], templateStops, stopTokens, trimLeadingWhitespace });
}

/** One run of the token loop on a sequence of the pool, without the closing events. */
export async function runPhase(engine: GenerationEngine, openPrompt: LlamaPrompt, options: GenerationOptions, settings: PhaseSettings): Promise<PhaseOutcome> {
  const prompt = settings.grammar === undefined ? openPrompt : closedForGrammar(engine.model, openPrompt);
  const lease = await engine.pool.acquire(prompt.tokens, options.signal);
  try {
    return await runOnSequence(engine, lease.sequence, prompt, options, settings);
  } catch (error) {
    // The sequence's cached state may be half-written; the next user starts clean.
    await engine.pool.editState(() => lease.sequence.clearHistory()).catch(() => undefined);
    throw error;
  } finally {
    lease.release();
  }
}

/** Keeps the cached prefix the prompt shares with the sequence's state, erases the rest. */
async function reuseCachedPrefix(sequence: LlamaContextSequence, promptTokens: Token[]): Promise<Token[]> {
  if (promptTokens.length <= 1) {
    if (sequence.nextTokenIndex > 0) await sequence.clearHistory();
    return promptTokens;
  }
  // The last prompt token is always evaluated again: its logits give the first generated token.
  await sequence.adaptStateToTokens(promptTokens.slice(0, -1), false);
  return promptTokens.slice(sequence.nextTokenIndex);
}

async function runOnSequence(
  engine: GenerationEngine,
  sequence: LlamaContextSequence,
  prompt: LlamaPrompt,
  options: GenerationOptions,
  settings: PhaseSettings,
): Promise<PhaseOutcome> {
  const { model } = engine;
  const { grammar } = settings;
  let rawText = '';
  const generated: Token[] = [];
  const budget = Math.min(options.maxTokens, engine.contextSize - prompt.tokens.length);
  const grammarStops = (grammar?.stopGenerationTriggers ?? []).map((trigger) => (typeof trigger === 'string' ? trigger : trigger.toString()));
  const stops = settings.callPhase === true ? [] : [...options.stop, ...prompt.templateStops, ...(settings.extraStops ?? [])];
  const holdback = new StopStringHoldback([...stops, ...grammarStops], {
    trimLeadingWhitespace: prompt.trimLeadingWhitespace && settings.callPhase !== true,
    trimTrailingWhitespace: grammar?.trimWhitespaceSuffix ?? false,
  });
  const decoder = new TokenTextDecoder(model, prompt.tokens);
  const logprobs = options.topLogprobs === undefined ? undefined : new LogprobRecorder(model, prompt.tokens, options.topLogprobs);

  // A grammar leaves no room for a thought: a constrained reply is all answer.
  const thought = grammar === undefined ? prompt.thought : undefined;
  const reply = new ReplyWriter(thought, options.onEvent);
  const thoughtBudget = thought === undefined ? undefined : thinkingBudget(options.reasoningEffort, engine.maxThinkingTokens, options.thinkingTokens);
  // What the engine writes when the budget is spent: the end marker, as the model would (no budget, no marker to write).
  const closing = thought === undefined || thoughtBudget === undefined ? [] : model.tokenize(thought.markers.end, false);
  let thoughtTokens = 0;
  let thoughtClosed = false;
  let releasedLength = 0;
  const emit = (piece: string): void | Promise<void> => {
    releasedLength += piece.length;
    return reply.write(piece);
  };

  const evaluateOptions = samplerOptions(options, {
    model,
    vocabularySize: engine.vocabularySize,
    grammarState: grammar === undefined ? undefined : new LlamaGrammarEvaluationState({ model, grammar }),
    recentTokens: () => (generated.length >= 64 ? generated : [...prompt.tokens.slice(-64), ...generated]),
  });
  const input = await engine.pool.editState(() => reuseCachedPrefix(sequence, prompt.tokens));
  const steps: AsyncGenerator<GeneratedStep, void, Token[] | undefined> =
    logprobs === undefined
      ? tokensOnly(sequence.evaluate(input, evaluateOptions))
      : sequence.evaluateWithMetadata(input, options.topLogprobs === 0 ? { confidence: true } : { probabilities: true }, evaluateOptions);

  let finishReason: FinishReason = 'stop';
  let stoppedByString = false;
  const roundMember = {};
  const stepTimer = new TokenStepTimer(engine.maxTokenMs);
  // Tokens the model is given in place of evaluating its last one (the thought's end marker, once its budget is spent).
  let replacement: Token[] | undefined;
  try {
    for (;;) {
      const next = await steps.next(replacement);
      replacement = undefined;
      if (next.done === true) break;
      const step = next.value;
      stepTimer.received();
      if (options.signal.aborted || prompt.stopTokens.has(step.token)) break;
      // Past the thought's budget, the end marker follows this token, as if the model wrote it.
      const inThought = reply.inThought && !thoughtClosed;
      if (inThought) thoughtTokens++;
      const forced = inThought && thoughtBudget !== undefined && thoughtTokens >= thoughtBudget ? closing.slice(0, budget - generated.length - 1) : [];
      if (forced.length > 0) {
        replacement = [step.token, ...forced];
        thoughtClosed = true;
      }
      let output = { text: '', stopped: false };
      for (const [index, token] of [step.token, ...forced].entries()) {
        generated.push(token);
        logprobs?.record(index === 0 ? step : { token, confidence: 1 }, decoder.decodedLength);
        const piece = decoder.push(token);
        rawText += piece;
        const pushed = holdback.push(piece);
        output = { text: output.text + pushed.text, stopped: pushed.stopped };
        if (pushed.stopped) break;
      }
      const readerBehind = emit(output.text);
      if (readerBehind !== undefined) {
        // Paused for a client that does not read: the other sequences' rounds do not wait for it.
        engine.rounds.leave(roundMember);
        await readerBehind;
        if (options.signal.aborted) break;
      }
      if (output.stopped) {
        stoppedByString = true;
        break;
      }
      if (generated.length >= budget) {
        finishReason = 'length';
        break;
      }
      // Checked only when another token is wanted: a slow last token still completes the reply.
      stepTimer.assertLastStepWithinLimit();
      engine.rounds.join(roundMember);
      const round = engine.rounds.arrive(roundMember);
      if (round !== undefined) await round;
      // While another request trims its sequence's cached state, ask for no further token until it
      // is done: the trim needs the context's lock, which node-llama-cpp's batch loop holds for as
      // long as any sequence has a token queued (see SequencePool.editState).
      const edits = engine.pool.stateEditsSettled();
      if (edits !== undefined) await edits;
      stepTimer.asking();
    }
  } finally {
    engine.rounds.leave(roundMember);
    await steps.return();
  }
  if (!stoppedByString) {
    const rest = decoder.flush();
    rawText += rest;
    const output = holdback.finish(rest);
    await emit(output.text);
    if (output.stopped) finishReason = 'stop';
  }
  await reply.finish();

  const result: GenerationResult = {
    text: reply.text,
    ...(reply.reasoning !== '' ? { reasoning: reply.reasoning } : {}),
    finishReason,
    // Only the request's own stop strings are reported (not the template's end markers or a phase's trigger).
    ...(finishReason === 'stop' && holdback.stoppedBy !== undefined && options.stop.includes(holdback.stoppedBy) ? { stopSequence: holdback.stoppedBy } : {}),
    promptTokens: prompt.tokens.length,
    completionTokens: generated.length,
    // The last prompt token is evaluated again even when cached (its logits start the reply).
    cachedPromptTokens: prompt.tokens.length - input.length,
    // The whole reply's tokens, its thought's included.
    logprobs: logprobs?.entriesWithin(holdback.leadingTrimmed, holdback.leadingTrimmed + releasedLength),
  };
  return { result, rawText };
}

/** The token stream as steps; what `next` is given (tokens to evaluate instead of the last one) goes through. */
async function* tokensOnly(tokens: AsyncGenerator<Token, void, void | Token | Token[]>): AsyncGenerator<GeneratedStep, void, Token[] | undefined> {
  let input: Token[] | undefined;
  try {
    for (;;) {
      const next = await tokens.next(input);
      if (next.done === true) return;
      input = yield { token: next.value };
    }
  } finally {
    await tokens.return();
  }
}

/**
 * Logprobs from the probabilities the sampler drew from (after temperature, top-k/p and biases),
 * as llama.cpp's server reports them; at temperature 0 that is the model's full distribution.
 */
class LogprobRecorder {
  readonly #model: LlamaModel;
  readonly #top: number;
  #previous: Token[];
  readonly #entries: Array<{ offset: number; entry: TokenLogprob }> = [];

  constructor(model: LlamaModel, promptTokens: readonly Token[], top: number) {
    this.#model = model;
    this.#top = Math.max(0, Math.floor(top));
    this.#previous = promptTokens.slice(-4);
  }

  record(step: GeneratedStep, textOffset: number): void {
    const chosen = step.probabilities?.get(step.token) ?? step.confidence ?? 0;
    const topLogprobs: TokenLogprob['topLogprobs'] = [];
    if (step.probabilities !== undefined) {
      for (const [token, probability] of step.probabilities) {
        if (topLogprobs.length >= this.#top) break;
        topLogprobs.push({ token: this.#pieceOf(token), logprob: Math.log(probability) });
      }
    }
    this.#entries.push({ offset: textOffset, entry: { token: this.#pieceOf(step.token), logprob: Math.log(chosen), topLogprobs } });
    this.#previous = [...this.#previous, step.token].slice(-4);
  }

  /** Entries of the tokens whose text starts inside the returned text (not in a stop string). */
  entriesWithin(start: number, end: number): TokenLogprob[] {
    if (end <= start) return [];
    return this.#entries.filter(({ offset }) => offset < end).map(({ entry }) => entry);
  }

  #pieceOf(token: Token): string {
    return this.#model.detokenize([token], true, this.#previous);
  }
}
