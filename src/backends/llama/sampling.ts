// GenerationOptions → the sampler settings of one `LlamaContextSequence.evaluate` call.
import { randomInt } from 'node:crypto';
import { TokenBias, type LlamaGrammarEvaluationState, type LlamaModel, type SequenceEvaluateOptions, type Token } from 'node-llama-cpp';
import type { GenerationOptions } from '../../engine/contract.js';
import { UnsupportedFeatureError } from '../../engine/errors.js';

/** llama.cpp's default window for repeat, presence and frequency penalties. */
const PENALTY_WINDOW = 64;
const SEED_RANGE = 2 ** 32;

/**
 * llama.cpp seeds are unsigned 32-bit. Any integer maps to one deterministically. Without a seed,
 * node-llama-cpp would seed with the current second, so two requests in the same second would
 * sample alike: draw a random one instead.
 */
export function resolveSeed(seed: number | undefined): number {
  if (seed === undefined || !Number.isFinite(seed)) return randomInt(0, 2 ** 31);
  return ((Math.trunc(seed) % SEED_RANGE) + SEED_RANGE) % SEED_RANGE;
}

/** Throws UnsupportedFeatureError (a 400) for a token id the model does not have. */
export function assertTokensInVocabulary(tokens: Iterable<number>, vocabularySize: number, field: string): void {
  for (const token of tokens) {
    if (!Number.isInteger(token) || token < 0 || token >= vocabularySize) {
      throw new UnsupportedFeatureError(`token id ${token} is not in this model's vocabulary (0 to ${vocabularySize - 1})`, field);
    }
  }
}

function tokenBiasFor(model: LlamaModel, logitBias: Record<number, number>, vocabularySize: number): TokenBias | undefined {
  const entries = Object.entries(logitBias).map(([token, bias]) => [Number(token), bias] as const);
  if (entries.length === 0) return undefined;
  assertTokensInVocabulary(
    entries.map(([token]) => token),
    vocabularySize,
    'logitBias',
  );
  const tokenBias = TokenBias.for(model);
  // TokenBias.set() silently skips end-of-generation tokens, yet banning EOS is a common use of
  // logit_bias; the sampler reads this map as is, so EOG tokens are written to it directly.
  const biases = (tokenBias as unknown as { _biases?: Map<Token, number> })._biases;
  for (const [token, bias] of entries) {
    const logit = bias <= -100 ? -Infinity : bias;
    if (model.isEogToken(token as Token) && biases instanceof Map) biases.set(token as Token, logit);
    else tokenBias.set(token as Token, logit === -Infinity ? 'never' : { logit });
  }
  return tokenBias;
}

export interface SamplingContext {
  model: LlamaModel;
  vocabularySize: number;
  grammarState?: LlamaGrammarEvaluationState;
  /** Prompt and generated tokens so far, for the penalties' window. */
  recentTokens: () => readonly Token[];
}

/**
 * Unset topK/topP/minP keep llama.cpp's defaults (40, 0.95, 0) rather than OpenAI's "off": they
 * are what GGUF models are tuned and evaluated with. Penalties look at the last 64 tokens, prompt
 * included, as llama.cpp's do.
 */
export function samplerOptions(options: GenerationOptions, context: SamplingContext): SequenceEvaluateOptions {
  const penalize =
    (options.repeatPenalty !== undefined && options.repeatPenalty !== 1) || (options.presencePenalty ?? 0) !== 0 || (options.frequencyPenalty ?? 0) !== 0;
  return {
    temperature: Math.max(0, options.temperature),
    topK: options.topK,
    topP: options.topP,
    minP: options.minP,
    seed: resolveSeed(options.seed),
    grammarEvaluationState: context.grammarState,
    tokenBias: options.logitBias === undefined ? undefined : tokenBiasFor(context.model, options.logitBias, context.vocabularySize),
    repeatPenalty: penalize
      ? {
          punishTokens: () => context.recentTokens().slice(-PENALTY_WINDOW) as Token[],
          maxPunishTokens: PENALTY_WINDOW,
          penalty: options.repeatPenalty ?? 1,
          presencePenalty: options.presencePenalty ?? 0,
          frequencyPenalty: options.frequencyPenalty ?? 0,
        }
      : undefined,
  };
}
