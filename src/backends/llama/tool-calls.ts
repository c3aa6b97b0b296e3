// Tool calls on the in-process engine, on the same token loop as every generation (no LlamaChat:
// its exact counts, held-back stops and batching rounds stay). A reply with tools runs in up to two
// phases on the model's sequence:
//   1. `auto` only: free text, with the call syntax's opening (`<tool_call>`) as one more stop
//      string. A reply that never opens a call ends here, as text.
//   2. `required`, a named function, or an `auto` reply that opened a call: the conversation so far
//      (prompt + the text before the opening) continues under the grammar of a reply made of calls
//      (../tool-calls/tool-call-grammar.ts), so every call's name is listed and its arguments match its schema.
// The second phase's text is read as tool-call events (../tool-calls/tool-call-reader.ts), never as text.
import type { ChatWrapper } from 'node-llama-cpp';
import type { ChatTools, FinishReason, GenerationOptions, GenerationResult, PreparedPrompt } from '../../engine/contract.js';
import { assertPromptFits, reportEnd } from '../../engine/generation-end.js';
import { callSyntaxOf, type CallSyntax } from '../tool-calls/call-syntax.js';
import { toolCallGrammar } from '../tool-calls/tool-call-grammar.js';
import { ToolCallReader } from '../tool-calls/tool-call-reader.js';
import { llamaPrompt, runPhase, type GenerationEngine, type LlamaPrompt } from './token-generation.js';

/** What a chat prompt with tools carries: the call syntax and the grammar's text (its schemas already checked). */
export interface ToolPrompt {
  syntax: CallSyntax;
  grammar: string;
}

export async function prepareToolGrammar(wrapper: ChatWrapper, tools: ChatTools): Promise<ToolPrompt> {
  const syntax = callSyntaxOf(wrapper);
  return { syntax, grammar: await toolCallGrammar(syntax, tools) };
}

export async function generateWithTools(
  engine: GenerationEngine,
  prepared: PreparedPrompt,
  options: GenerationOptions,
  tools: ToolPrompt,
): Promise<GenerationResult> {
  const prompt = prepared as LlamaPrompt;
  options.signal.throwIfAborted();
  assertPromptFits(prompt.tokens.length, engine.contextSize);
  // Compiled before any sequence is taken; cached per model across requests.
  const grammar = await engine.grammars.compileToolCalls(tools.grammar);
  const choice = options.tools!.choice.kind;
  let text = '';
  let callPrompt = prompt;
  let spent = 0;
  let first: GenerationResult | undefined;
  if (choice === 'auto') {
    const free = await runPhase(engine, prompt, options, { extraStops: [tools.syntax.trigger] });
    first = free.result;
    text = free.result.text;
    spent = free.result.completionTokens;
    const opening = free.rawText.indexOf(tools.syntax.trigger);
    if (opening < 0 || free.result.finishReason !== 'stop' || options.signal.aborted || spent >= options.maxTokens)
      return await reportEnd(options, free.result);
    // The model's own words before the call stay in its context; the call starts again under the grammar.
    const before = engine.model.tokenize(free.rawText.slice(0, opening), false);
    callPrompt = llamaPrompt({
      tokens: [...prompt.tokens, ...before],
      templateStops: prompt.templateStops,
      stopTokens: prompt.stopTokens,
      trimLeadingWhitespace: false,
    });
  }
  const reader = new ToolCallReader(tools.syntax, (event) => options.onEvent?.(event));
  const calls = await runPhase(
    engine,
    callPrompt,
    {
      ...options,
      maxTokens: options.maxTokens - spent,
      topLogprobs: undefined,
      onEvent: (event) => (event.type === 'text' ? reader.push(event.text) : undefined),
    },
    { grammar, onlyStops: [] },
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
