// Chat on a llama.cpp model: messages rendered with the model's chat template once (prepareChat),
// then the shared generation loop on those very tokens, so the count is exactly the prompt the
// model sees and a 2M-character conversation is not tokenized twice.
import { SpecialToken, SpecialTokensText, type ChatHistoryItem, type ChatWrapper, type LlamaModel, type Token } from 'node-llama-cpp';
import type { ChatCapability, ChatMessage } from '../../engine/contract.js';
import { UnsupportedFeatureError } from '../../engine/errors.js';
import { generateFromPrompt, llamaPrompt, type GenerationEngine } from './token-generation.js';

/**
 * node-llama-cpp's chat history has no tool role (it models tool calls inside model turns), so a
 * tool result reaches the model as a user turn that says what it is.
 */
function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((message): ChatHistoryItem => {
    switch (message.role) {
      case 'system':
      case 'developer':
        return { type: 'system', text: message.content };
      case 'assistant':
        return { type: 'model', response: [message.content] };
      case 'tool':
        return { type: 'user', text: `Tool result${message.name ? ` (${message.name})` : ''}:\n${message.content}` };
      default:
        return { type: 'user', text: message.content };
    }
  });
  // An empty model turn at the end is the open reply the model writes (the generation prompt).
  history.push({ type: 'model', response: [] });
  return history;
}

interface RenderedChat {
  tokens: Token[];
  templateStops: string[];
  stopTokens: Set<Token>;
}

export function renderChat(model: LlamaModel, wrapper: ChatWrapper, messages: readonly ChatMessage[]): RenderedChat {
  let state;
  try {
    state = wrapper.generateContextState({ chatHistory: toChatHistory(messages) });
  } catch (error) {
    // Jinja templates raise on conversations they do not accept (e.g. roles that do not alternate).
    throw new UnsupportedFeatureError(`the model's chat template rejected these messages: ${error instanceof Error ? error.message : String(error)}`, 'prompt');
  }
  let contextText = state.contextText;
  if (state.noPrefixTrigger?.type === 'response') contextText = contextText.concat(state.noPrefixTrigger.inject);
  const tokens = contextText.tokenize(model.tokenizer);
  // As llama.cpp does: a template that does not write BOS gets it when the vocabulary asks for one.
  const bos = model.tokens.bos;
  if (model.tokens.shouldPrependBosToken && bos !== null && tokens[0] !== bos) tokens.unshift(bos);

  const templateStops: string[] = [];
  const stopTokens = new Set<Token>();
  for (const trigger of state.stopGenerationTriggers) {
    const triggerTokens = trigger.tokenize(model.tokenizer, 'trimLeadingSpace');
    if (triggerTokens.length === 1 && model.isSpecialToken(triggerTokens[0])) stopTokens.add(triggerTokens[0]);
    // Builtin special tokens (EOS, EOT) have no text form; text triggers are also matched as text,
    // since a vocabulary without the special token spells them out piece by piece.
    if (trigger.values.some((value) => value instanceof SpecialToken)) continue;
    const text = trigger.values.map((value) => (value instanceof SpecialTokensText ? value.value : String(value))).join('');
    if (text !== '') templateStops.push(text);
  }
  return { tokens, templateStops, stopTokens };
}

export function createLlamaChat(engine: GenerationEngine, wrapper: ChatWrapper): ChatCapability {
  return {
    async prepareChat(messages) {
      return llamaPrompt({ ...renderChat(engine.model, wrapper, messages), trimLeadingWhitespace: true });
    },
    async generate(prompt, options) {
      return await generateFromPrompt(engine, prompt, options);
    },
  };
}
