// How a model writes a tool call, as text: the syntax of its chat wrapper, which node-llama-cpp
// knows for many families and infers from a Jinja template (Hermes/Qwen's
// `<tool_call>\n{"name": "…", "arguments": …}\n</tool_call>`, Llama 3.1's, Functionary's, …). The
// in-process engine reads it from the wrapper it prompts with; llama-server, which renders the
// prompt itself, from the template the server reports, resolved the same way.
import { LlamaText, resolveChatWrapper, type ChatWrapper } from 'node-llama-cpp';

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
  const firstLine = prefix.trimStart().split('\n')[0];
  return {
    prefix,
    paramsPrefix: textOf(call.paramsPrefix),
    suffix: textOf(call.suffix),
    betweenCalls: parallelism == null ? undefined : textOf(parallelism.call.betweenCalls),
    sectionPrefix: parallelism == null ? '' : textOf(parallelism.call.sectionPrefix),
    trigger: firstLine !== '' ? firstLine : prefix.trim(),
  };
}

/**
 * The call syntax of a Jinja chat template, without a model loaded: the wrapper node-llama-cpp
 * resolves for it (a built-in one the template is equivalent to, else the template itself with
 * the syntax inferred from rendering sample calls). Measured: about 250 ms for Qwen 2.5's template.
 */
export function callSyntaxOfTemplate(template: string, architecture?: string): CallSyntax {
  const wrapper = resolveChatWrapper({
    customWrapperSettings: { jinjaTemplate: { template } },
    ...(architecture === undefined ? {} : { architecture: architecture as never }),
    warningLogs: false,
  });
  if (wrapper === null) throw new Error('no chat wrapper could be resolved for the chat template');
  return callSyntaxOf(wrapper);
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
