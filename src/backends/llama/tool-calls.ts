// Tool calls on the in-process engine, on the same token loop as every generation (no LlamaChat:
// its exact counts, held-back stops and batching rounds stay): the phases of
// ../tool-calls/tool-reply.ts, each a run of the loop on a sequence of the pool.
import type { ChatWrapper } from 'node-llama-cpp';
import type { ChatTools, GenerationOptions, GenerationResult, PreparedPrompt } from '../../engine/contract.js';
import { assertPromptFits } from '../../engine/generation-end.js';
import { callSyntaxOf, type CallSyntax } from '../tool-calls/call-syntax.js';
import { toolCallGrammar } from '../tool-calls/tool-call-grammar.js';
import { generateToolReply } from '../tool-calls/tool-reply.js';
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
  return await generateToolReply(prompt, prompt.promptTokens, options, tools.syntax, {
    async free(freePrompt, extraStop) {
      const run = await runPhase(engine, freePrompt, options, { extraStops: [extraStop] });
      const opening = run.rawText.indexOf(extraStop);
      return { result: run.result, ...(opening < 0 ? {} : { opened: run.rawText.slice(0, opening) }) };
    },
    async continued(freePrompt, textBefore) {
      // Nothing before the call: the prompt as it was (a thought it opened is closed before the calls).
      if (textBefore === '') return freePrompt;
      const before = engine.model.tokenize(textBefore, false);
      return llamaPrompt({
        tokens: [...freePrompt.tokens, ...before],
        templateStops: freePrompt.templateStops,
        stopTokens: freePrompt.stopTokens,
        trimLeadingWhitespace: false,
      });
    },
    async calls(callPrompt, callOptions) {
      return (await runPhase(engine, callPrompt, callOptions, { grammar, callPhase: true })).result;
    },
  });
}
