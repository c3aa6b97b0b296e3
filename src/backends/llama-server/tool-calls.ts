// Tool calls on a llama-server model, constrained by the gateway's own grammar (llama-server's
// chat endpoint does not enforce `required`, and takes a named tool_choice for `auto`). The same
// phases as the in-process engine (../llama/tool-calls.ts), each one /completion request:
//   1. `auto` only: free text, with the call syntax's opening (`<tool_call>`) as one more stop
//      string. A reply that never opens a call ends here, as text.
//   2. `required`, a named function, or an `auto` reply that opened a call: the prompt plus the
//      text before the opening continues under the grammar of a reply made of calls
//      (../tool-calls/tool-call-grammar.ts), from its first token. The server's prompt cache makes
//      this second request evaluate only the text the first one generated.
// The second phase's text is read as tool-call events (../tool-calls/tool-call-reader.ts). Two
// requests rather than one lazy grammar (`grammar_lazy` + `grammar_triggers`): with a lazy grammar
// the request's stop strings would apply inside a call too, and the split of text and call would
// be done again here; the phases keep stops, held-back text and logprobs exactly as for text.
import type { ChatTools, FinishReason, GenerationOptions, GenerationResult, PreparedPrompt } from '../../engine/contract.js';
import { reportEnd } from '../../engine/generation-end.js';
import { UnsupportedFeatureError } from '../../engine/errors.js';
import { callMarkers, callSyntaxOfTemplate, type CallSyntax } from '../tool-calls/call-syntax.js';
import { toolCallGrammar } from '../tool-calls/tool-call-grammar.js';
import { ToolCallReader } from '../tool-calls/tool-call-reader.js';
import type { LlamaServerConnection } from './connection.js';
import { asServerPrompt, runOnServer, serverPrompt, type ServerGenerationSettings, type ServerPrompt } from './generation.js';
import { tokenizeOnServer } from './tokenizer.js';

/** What a chat prompt with callable tools carries: the call syntax and the grammar's text (its schemas already checked). */
export interface ServerToolPrompt {
  syntax: CallSyntax;
  grammar: string;
}

/** The model's chat template, as the server reports it, and what the loader knows of the model. */
export interface ServerTemplate {
  modelId: string;
  chatTemplate: string;
  /** llama.cpp's reading of the template: whether it lists tools in its prompt. */
  listsTools: boolean;
  architecture?: string;
}

/**
 * Prepares the tool calls of the model's prompts: the call syntax is resolved from the template
 * once, on the first request with tools (a model never asked for tools never pays for it).
 */
export function serverToolCalls(template: ServerTemplate): (tools: ChatTools) => Promise<ServerToolPrompt> {
  let syntax: CallSyntax | undefined;
  return async (tools) => {
    if (!template.listsTools || template.chatTemplate === '') {
      throw new UnsupportedFeatureError(
        `model '${template.modelId}' cannot take tools on llama-server: its chat template does not list tools (give it a tool-capable chat_template, or run it on backend = "llama")`,
        'tools',
      );
    }
    syntax ??= callSyntaxOfTemplate(template.chatTemplate, template.architecture);
    return { syntax, grammar: await toolCallGrammar(syntax, tools) };
  };
}

/** The prompt followed by the model's own text before its call, which stays in its context. */
async function continuedPrompt(connection: LlamaServerConnection, prompt: ServerPrompt, textBefore: string): Promise<ServerPrompt> {
  if (textBefore === '') return prompt;
  const added = await tokenizeOnServer(connection, textBefore, { addSpecial: false });
  if (prompt.media !== undefined)
    return serverPrompt({ ...prompt, media: { ...prompt.media, text: prompt.media.text + textBefore }, promptTokens: prompt.promptTokens + added.length });
  return serverPrompt({ ...prompt, tokens: [...prompt.tokens, ...added], promptTokens: prompt.promptTokens + added.length });
}

export async function generateToolsOnServer(
  connection: LlamaServerConnection,
  settings: ServerGenerationSettings,
  prepared: PreparedPrompt,
  options: GenerationOptions,
  tools: ServerToolPrompt,
): Promise<GenerationResult> {
  const prompt = asServerPrompt(prepared);
  const preservedTokens = callMarkers(tools.syntax);
  const choice = options.tools!.choice.kind;
  let text = '';
  let callPrompt = prompt;
  let spent = 0;
  let first: GenerationResult | undefined;
  if (choice === 'auto') {
    const free = await runOnServer(connection, settings, prompt, options, { extraStops: [tools.syntax.trigger], preservedTokens });
    first = free.result;
    text = free.result.text;
    spent = free.result.completionTokens;
    if (free.stoppingWord !== tools.syntax.trigger || free.result.finishReason !== 'stop' || options.signal.aborted || spent >= options.maxTokens)
      return await reportEnd(options, free.result);
    callPrompt = await continuedPrompt(connection, prompt, free.rawText);
  }
  const reader = new ToolCallReader(tools.syntax, (event) => options.onEvent?.(event));
  const calls = await runOnServer(
    connection,
    settings,
    callPrompt,
    {
      ...options,
      maxTokens: options.maxTokens - spent,
      topLogprobs: undefined,
      onEvent: (event) => (event.type === 'text' ? reader.push(event.text) : undefined),
    },
    { grammar: tools.grammar, preservedTokens },
  );
  const finishReason: FinishReason = calls.result.finishReason === 'length' ? 'length' : reader.calls.length > 0 ? 'tool_calls' : 'stop';
  return await reportEnd(options, {
    text,
    toolCalls: reader.calls,
    finishReason,
    promptTokens: prompt.promptTokens,
    completionTokens: spent + calls.result.completionTokens,
    cachedPromptTokens: (first ?? calls.result).cachedPromptTokens,
    ...(first?.logprobs !== undefined ? { logprobs: first.logprobs } : {}),
  });
}
