// Raw text completion (/v1/completions) on a llama.cpp model, and fill-in-the-middle when the
// vocabulary has FIM tokens. Prompts are tokenized as llama.cpp's server does: BOS when the
// vocabulary asks for it, and special-token text (e.g. "<|im_start|>") parsed as special tokens,
// since raw prompts are often hand-written templates.
import type { LlamaModel, Token } from 'node-llama-cpp';
import type { TextCompletionCapability } from '../../engine/contract.js';
import { UnsupportedFeatureError } from '../../engine/errors.js';
import { withSpecialTokens } from './special-tokens.js';
import { generateFromPrompt, llamaPrompt, type GenerationEngine } from './token-generation.js';

export function completionPromptTokens(model: LlamaModel, text: string): Token[] {
  return withSpecialTokens(model, model.tokenize(text, true), { end: false });
}

/** Prefix-suffix-middle order when the model has a middle token, suffix-prefix otherwise (as node-llama-cpp orders them). */
function infillPromptTokens(model: LlamaModel, modelId: string, prefix: string, suffix: string): Token[] {
  const { prefix: prefixToken, suffix: suffixToken, middle: middleToken } = model.tokens.infill;
  if (prefixToken === null || suffixToken === null) {
    throw new UnsupportedFeatureError(`model "${modelId}" does not support suffix (fill-in-the-middle): its vocabulary has no FIM tokens`, 'suffix');
  }
  const prefixTokens = model.tokenize(prefix, false, 'trimLeadingSpace');
  const suffixTokens = model.tokenize(suffix, false, 'trimLeadingSpace');
  const body =
    middleToken !== null
      ? [prefixToken, ...prefixTokens, suffixToken, ...suffixTokens, middleToken]
      : [suffixToken, ...suffixTokens, prefixToken, ...prefixTokens];
  return withSpecialTokens(model, body, { end: false });
}

export function createLlamaTextCompletion(engine: GenerationEngine, modelId: string): TextCompletionCapability {
  const { model } = engine;
  return {
    async prepareText(prompt, options = {}) {
      const tokens =
        options.suffix !== undefined && options.suffix !== ''
          ? infillPromptTokens(model, modelId, prompt, options.suffix)
          : completionPromptTokens(model, prompt);
      if (tokens.length === 0) {
        throw new UnsupportedFeatureError(`model "${modelId}" cannot continue an empty prompt (its vocabulary adds no beginning token)`, 'prompt');
      }
      return llamaPrompt({ tokens, templateStops: [], stopTokens: new Set(), trimLeadingWhitespace: false });
    },
    async generate(prompt, options) {
      return await generateFromPrompt(engine, prompt, options);
    },
  };
}
