// Which chat format a model is prompted in: the operator's `chat_template` when given, else the
// template in the GGUF (`tokenizer.chat_template`, mapped by node-llama-cpp to a built-in wrapper
// when it recognises it, e.g. ChatML), else node-llama-cpp's guess from the model's name, falling
// back to its generic wrapper.
import { JinjaTemplateChatWrapper, resolveChatWrapper, type ChatHistoryItem, type ChatWrapper, type LlamaModel } from 'node-llama-cpp';
import type { ModelConfig } from '../../config/schema.js';

/** A conversation every sane template can render, to reject a broken template at load rather than per request. */
const SAMPLE_HISTORY: ChatHistoryItem[] = [
  { type: 'system', text: 'You are helpful.' },
  { type: 'user', text: 'Hello' },
  { type: 'model', response: ['Hi!'] },
  { type: 'user', text: 'Tell me a story.' },
  { type: 'model', response: [] },
];

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function resolveModelChatWrapper(model: LlamaModel, config: ModelConfig): ChatWrapper {
  if (config.chat_template !== undefined) {
    try {
      const wrapper = new JinjaTemplateChatWrapper({ template: config.chat_template, tokenizer: model.tokenizer });
      wrapper.generateContextState({ chatHistory: SAMPLE_HISTORY });
      return wrapper;
    } catch (error) {
      throw new Error(`chat_template could not render a sample conversation: ${reasonOf(error)}`, { cause: error });
    }
  }
  return resolveChatWrapper(model, { warningLogs: false });
}

export function hasOwnChatTemplate(model: LlamaModel): boolean {
  return typeof model.fileInfo.metadata?.tokenizer?.chat_template === 'string';
}
