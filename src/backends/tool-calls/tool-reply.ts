// How a reply with tools runs, on every engine that constrains calls by grammar, in up to two
// phases on the model's prompt:
//   1. `auto` only: free text, with the call syntax's opening (`<tool_call>`) as one more stop
//      string. A reply that never opens a call ends here, as text.
//   2. `required`, a named function, or an `auto` reply that opened a call: the prompt plus the
//      text before the opening continues under the grammar of a reply made of calls
//      (tool-call-grammar.ts), from its first token, with no stop strings (a call must not be cut
//      inside a string).
// The second phase's text is read as tool-call events (tool-call-reader.ts), never as text. Each
// engine says how it runs a phase; what the phases make of a reply is decided here once.
import type { ChatTools, FinishReason, GenerationOptions, GenerationResult } from '../../engine/contract.js';
import { reportEnd } from '../../engine/generation-end.js';
import type { CallSyntax } from './call-syntax.js';
import { ToolCallReader } from './tool-call-reader.js';

/** An engine's phases, on its own kind of prompt. Neither reports the closing events. */
/** Tools listed in the prompt: none under tool_choice "none" (the model is not invited to call them). */
export function listedTools(tools: ChatTools | undefined): ChatTools | undefined {
  return tools !== undefined && tools.choice.kind !== 'none' ? tools : undefined;
}

export interface ToolReplyPhases<Prompt> {
  /** Free text with `extraStop` (the call's opening) as one more stop; `opened`: the text before the opening, when the model opened a call. */
  free(prompt: Prompt, extraStop: string): Promise<{ result: GenerationResult; opened?: string }>;
  /** The prompt followed by the model's own text before its call, which stays in its context. */
  continued(prompt: Prompt, textBefore: string): Promise<Prompt>;
  /** The calls under the grammar, their text given to `options.onEvent` as text events. */
  calls(prompt: Prompt, options: GenerationOptions): Promise<GenerationResult>;
}

export async function generateToolReply<Prompt>(
  prompt: Prompt,
  promptTokens: number,
  options: GenerationOptions,
  syntax: CallSyntax,
  phases: ToolReplyPhases<Prompt>,
): Promise<GenerationResult> {
  let callPrompt = prompt;
  let free: GenerationResult | undefined;
  if (options.tools!.choice.kind === 'auto') {
    const outcome = await phases.free(prompt, syntax.trigger);
    free = outcome.result;
    if (outcome.opened === undefined || free.finishReason !== 'stop' || options.signal.aborted || free.completionTokens >= options.maxTokens)
      return await reportEnd(options, free);
    callPrompt = await phases.continued(prompt, outcome.opened);
  }
  const spent = free?.completionTokens ?? 0;
  const reader = new ToolCallReader(syntax, (event) => options.onEvent?.(event));
  const calls = await phases.calls(callPrompt, {
    ...options,
    maxTokens: options.maxTokens - spent,
    topLogprobs: undefined,
    onEvent: (event) => (event.type === 'text' ? reader.push(event.text) : undefined),
  });
  reader.end();
  const finishReason: FinishReason = calls.finishReason === 'length' ? 'length' : reader.calls.length > 0 ? 'tool_calls' : 'stop';
  return await reportEnd(options, {
    text: free?.text ?? '',
    // The thought before an `auto` call stays the reply's (a call under a grammar has none).
    ...(free?.reasoning !== undefined ? { reasoning: free.reasoning } : {}),
    toolCalls: reader.calls,
    finishReason,
    promptTokens,
    completionTokens: spent + calls.completionTokens,
    cachedPromptTokens: (free ?? calls).cachedPromptTokens,
    // Logprobs cover the text before a call, not the call.
    ...(free?.logprobs !== undefined ? { logprobs: free.logprobs } : {}),
  });
}
