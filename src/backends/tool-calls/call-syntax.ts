// How a model writes a tool call, as text: the syntax of its chat wrapper, which node-llama-cpp
// knows for many families and infers from a Jinja template (Hermes/Qwen's
// `<tool_call>\n{"name": "…", "arguments": …}\n</tool_call>`, Llama 3.1's, Functionary's, …). The
// in-process engine reads it from the wrapper it prompts with; llama-server, which renders the
// prompt itself, from the template the server renders with.
import { JinjaTemplateChatWrapper, LlamaText, type ChatWrapper } from 'node-llama-cpp';

/** The call syntax of a chat wrapper, as text. */
export interface CallSyntax {
  prefix: string;
  paramsPrefix: string;
  suffix: string;
  /** Between two calls of one reply; undefined: the wrapper has no parallel calls. */
  betweenCalls?: string;
  sectionPrefix: string;
  /** What opens a call in free text: generation under `auto` switches to the grammar when it appears. */
  trigger: string;
}

function textOf(value: unknown): string {
  return value === undefined || value === null ? '' : LlamaText(value as Parameters<typeof LlamaText>[0]).toString();
}

export function callSyntaxOf(wrapper: ChatWrapper): CallSyntax {
  const { call, parallelism } = wrapper.settings.functions;
  const prefix = textOf(call.prefix);
  const sectionPrefix = parallelism == null ? '' : textOf(parallelism.call.sectionPrefix);
  // A reply's calls open with the section's marker (DeepSeek's `<｜tool▁calls▁begin｜>`) when the
  // syntax has one: that is what must not reach the text, and what the grammar writes again.
  const opening = (sectionPrefix + prefix).trimStart();
  const firstLine = opening.split('\n')[0];
  return {
    prefix,
    paramsPrefix: textOf(call.paramsPrefix),
    suffix: textOf(call.suffix),
    betweenCalls: parallelism == null ? undefined : textOf(parallelism.call.betweenCalls),
    sectionPrefix,
    trigger: firstLine !== '' ? firstLine : opening.trim(),
  };
}

/**
 * The call syntax a Jinja chat template writes, without a model loaded: node-llama-cpp's Jinja
 * wrapper infers it by rendering sample calls with the template itself. Not resolveChatWrapper,
 * which would also test the template against each built-in wrapper: the same syntax for Qwen 2.5's
 * template, at 1 to 3 s on the event loop instead of 60 to 220 ms (measured, 2-core CPU).
 */
export function callSyntaxOfTemplate(template: string): CallSyntax {
  return callSyntaxOf(new JinjaTemplateChatWrapper({ template }));
}

/**
 * The syntax's markers, one per line (`<tool_call>`, `</tool_call>`): an engine that drops special
 * tokens from its text must keep these (llama-server's `preserved_tokens`; strings that are not a
 * single token are ignored there).
 */
export function callMarkers(syntax: CallSyntax): string[] {
  const lines = [syntax.sectionPrefix, syntax.prefix, syntax.suffix, syntax.betweenCalls ?? ''].flatMap((text) => text.split('\n'));
  return [...new Set(lines.map((line) => line.trim()).filter((line) => line !== ''))];
}
