// Chat on a llama.cpp model: messages rendered with the model's chat template once (prepareChat),
// then the shared generation loop on those very tokens, so the count is exactly the prompt the
// model sees and a 2M-character conversation is not tokenized twice. Tool calls: see tool-calls.ts.
import {
  LlamaText,
  SpecialToken,
  SpecialTokensText,
  type ChatHistoryItem,
  type ChatModelFunctionCall,
  type ChatModelFunctions,
  type ChatWrapper,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import type { ChatCapability, ChatMessage, ChatTools } from '../../engine/contract.js';
import { promptOpensThought, thinkingIsOff, thoughtClosing, thoughtMarkersOf, type PromptThought, type ThoughtMarkers } from '../thought-segments.js';
import { UnsupportedFeatureError } from '../../engine/errors.js';
import { generateFromPrompt, llamaPrompt, type GenerationEngine } from './token-generation.js';
import { listedTools } from '../tool-calls/tool-reply.js';
import { generateWithTools, prepareToolGrammar, type ToolPrompt } from './tool-calls.js';

/** A call's arguments, or a tool's result, as the wrapper writes JSON (not as a string literal of it) when the text is JSON. */
function parsedJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * node-llama-cpp's chat history has no tool role: it models a tool call, with its result, inside
 * the model turn that made it, and the chat wrapper renders both in the template's syntax. A tool
 * result that answers no call (an engine-level caller without ids) reaches the model as a user
 * turn that says what it is.
 */
export function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const results = new Map(messages.filter((message) => message.toolCallId !== undefined).map((message) => [message.toolCallId!, message.content]));
  const history: ChatHistoryItem[] = [];
  let endsInAnsweredCalls = false;
  for (const message of messages) {
    // A tool result that answers a call is written inside the model turn that made it, and so is
    // the model's text after the results (LlamaChat's shape): a turn of its own would be an empty
    // assistant turn in the prompt, since the wrapper opens one after the results.
    const continuesTurn = endsInAnsweredCalls && message.role === 'assistant';
    if (message.role !== 'tool' || message.toolCallId === undefined) endsInAnsweredCalls = false;
    switch (message.role) {
      case 'system':
      case 'developer':
        history.push({ type: 'system', text: message.content });
        break;
      case 'assistant': {
        const calls = (message.toolCalls ?? []).map((call): ChatModelFunctionCall => ({
          type: 'functionCall',
          name: call.name,
          params: parsedJson(call.arguments),
          result: results.has(call.id) ? parsedJson(results.get(call.id)!) : '',
        }));
        const response = [...(message.content !== '' || calls.length === 0 ? [message.content] : []), ...calls];
        const turn = history.at(-1);
        if (continuesTurn && turn?.type === 'model') turn.response.push(...response);
        else history.push({ type: 'model', response });
        endsInAnsweredCalls = (message.toolCalls ?? []).some((call) => results.has(call.id));
        break;
      }
      case 'tool':
        if (message.toolCallId === undefined)
          history.push({ type: 'user', text: `Tool result${message.name ? ` (${message.name})` : ''}:\n${message.content}` });
        break;
      default:
        history.push({ type: 'user', text: message.content });
    }
  }
  // The model's reply goes on in the turn whose calls were answered, as LlamaChat continues it: the
  // wrapper writes the results and what opens the model's text after them. Otherwise an empty model
  // turn at the end is the open reply the model writes (the generation prompt).
  if (!endsInAnsweredCalls) history.push({ type: 'model', response: [] });
  return history;
}

interface RenderedChat {
  tokens: Token[];
  templateStops: string[];
  stopTokens: Set<Token>;
  thought?: PromptThought;
}

/** The wrapper's thought segment as text, when its template has one. */
function thoughtSegmentOf(wrapper: ChatWrapper): { prefix: string; markers: ThoughtMarkers; opensOnResponseStart: boolean } | undefined {
  const segment = wrapper.settings.segments?.thought;
  const prefix = segment?.prefix;
  const suffix = segment?.suffix;
  if (segment === undefined || !LlamaText.isLlamaText(prefix) || !LlamaText.isLlamaText(suffix)) return undefined;
  const [prefixText, suffixText] = [LlamaText(prefix).toString(), LlamaText(suffix).toString()];
  const markers = thoughtMarkersOf(prefixText + suffixText);
  return markers === undefined ? undefined : { prefix: prefixText, markers, opensOnResponseStart: segment.openOnResponseStart === true };
}

/**
 * The reply's opening as the template means it: node-llama-cpp's Jinja wrapper leaves a thought
 * its template opens on the reply's start to LlamaChat, which this token loop replaces, so it is
 * written here. With thinking off (`reasoning_effort: "none"`, or `max_thinking_tokens = 0`), an
 * open thought is closed at once, as a template's `enable_thinking = false` writes it.
 */
function thoughtOpening(wrapper: ChatWrapper, contextText: string, thinkingOff: boolean): { append: string; thought?: PromptThought } {
  const segment = thoughtSegmentOf(wrapper);
  if (segment === undefined) return { append: '' };
  const opened = segment.opensOnResponseStart || promptOpensThought(contextText, segment.markers);
  const opening = segment.opensOnResponseStart ? segment.prefix : '';
  if (opened && thinkingOff) return { append: opening + thoughtClosing(segment.markers), thought: { markers: segment.markers, opensInThought: false } };
  return { append: opening, thought: { markers: segment.markers, opensInThought: opened } };
}

/** The functions as node-llama-cpp's wrappers list them in the prompt. */
function availableFunctions(tools: ChatTools): ChatModelFunctions {
  return Object.fromEntries(
    tools.definitions.map((definition) => [
      definition.name,
      { ...(definition.description !== undefined ? { description: definition.description } : {}), params: definition.parameters as never },
    ]),
  );
}

export function renderChat(model: LlamaModel, wrapper: ChatWrapper, messages: readonly ChatMessage[], tools?: ChatTools, thinkingOff = false): RenderedChat {
  let state;
  try {
    // Under tool_choice "none" the tools are not listed: the model is not invited to call them.
    const listed = listedTools(tools);
    const functions = listed === undefined ? {} : { availableFunctions: availableFunctions(listed), documentFunctionParams: true };
    state = wrapper.generateContextState({ chatHistory: toChatHistory(messages), ...functions });
  } catch (error) {
    // Jinja templates raise on conversations they do not accept (e.g. roles that do not alternate).
    throw new UnsupportedFeatureError(`the model's chat template rejected these messages: ${error instanceof Error ? error.message : String(error)}`, 'prompt');
  }
  let contextText = state.contextText;
  if (state.noPrefixTrigger?.type === 'response') contextText = contextText.concat(state.noPrefixTrigger.inject);
  const { append, thought } = thoughtOpening(wrapper, contextText.toString(), thinkingOff);
  if (append !== '') contextText = LlamaText([contextText, new SpecialTokensText(append)]);
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
  return { tokens, templateStops, stopTokens, ...(thought !== undefined ? { thought } : {}) };
}

export function createLlamaChat(engine: GenerationEngine, wrapper: ChatWrapper): ChatCapability {
  /** The grammar of each prompt's tool calls, built (and its schemas checked) when the prompt is. */
  const toolPrompts = new WeakMap<object, ToolPrompt>();
  return {
    acceptsTools: true,
    async prepareChat(messages, options) {
      const tools = options?.tools;
      const listed = listedTools(tools);
      const toolPrompt = listed === undefined ? undefined : await prepareToolGrammar(wrapper, listed);
      const thinkingOff = thinkingIsOff(options?.reasoningEffort, engine.maxThinkingTokens);
      const prompt = llamaPrompt({ ...renderChat(engine.model, wrapper, messages, tools, thinkingOff), trimLeadingWhitespace: true });
      if (toolPrompt !== undefined) toolPrompts.set(prompt, toolPrompt);
      return prompt;
    },
    async generate(prompt, options) {
      const toolPrompt = toolPrompts.get(prompt);
      if (toolPrompt === undefined || listedTools(options.tools) === undefined) return await generateFromPrompt(engine, prompt, options);
      return await generateWithTools(engine, prompt, options, toolPrompt);
    },
  };
}
