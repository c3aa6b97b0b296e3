// Tool calls on a llama-server model, constrained by the gateway's own grammar (llama-server's
// chat endpoint does not enforce `required`, and takes a named tool_choice for `auto`): the phases
// of ../tool-calls/tool-reply.ts, each one /completion request. The server's prompt cache makes an
// `auto` reply's second request evaluate only the text the first one generated. Two requests
// rather than one lazy grammar (`grammar_lazy` + `grammar_triggers`): with a lazy grammar the
// request's stop strings would apply inside a call too, and text and call would be split again
// here; the phases keep stops, held-back text and logprobs exactly as for text.
import type { ChatTools, GenerationOptions, GenerationResult, PreparedPrompt } from '../../engine/contract.js';
import { UnsupportedFeatureError } from '../../engine/errors.js';
import { callMarkers, callSyntaxOfTemplate, type CallSyntax } from '../tool-calls/call-syntax.js';
import { toolCallGrammar } from '../tool-calls/tool-call-grammar.js';
import { generateToolReply } from '../tool-calls/tool-reply.js';
import type { LlamaServerConnection } from './connection.js';
import { asServerPrompt, promptFollowedBy, runOnServer, type ServerGenerationSettings, type ServerPrompt } from './generation.js';

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
    syntax ??= callSyntaxOfTemplate(template.chatTemplate);
    return { syntax, grammar: await toolCallGrammar(syntax, tools) };
  };
}

export async function generateToolsOnServer(
  connection: LlamaServerConnection,
  settings: ServerGenerationSettings,
  prepared: PreparedPrompt,
  options: GenerationOptions,
  tools: ServerToolPrompt,
): Promise<GenerationResult> {
  const prompt = asServerPrompt(prepared);
  // A model whose markers are special tokens (Qwen's <tool_call>) writes them as text only when asked to.
  const preservedTokens = callMarkers(tools.syntax);
  return await generateToolReply(prompt, prompt.promptTokens, options, tools.syntax, {
    async free(freePrompt, extraStop) {
      const run = await runOnServer(connection, settings, freePrompt, options, { extraStops: [extraStop], preservedTokens });
      return { result: run.result, ...(run.stoppingWord === extraStop ? { opened: run.rawText } : {}) };
    },
    // The model's own text before its call stays in its context.
    continued: async (freePrompt, textBefore) => (textBefore === '' ? freePrompt : await promptFollowedBy(connection, freePrompt, textBefore)),
    async calls(callPrompt, callOptions) {
      return (await runOnServer(connection, settings, callPrompt, callOptions, { grammar: tools.grammar, preservedTokens })).result;
    },
  });
}
