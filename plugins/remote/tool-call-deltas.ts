// An upstream's streamed `delta.tool_calls` → the engine's tool-call events, checked against the
// request's tools. The upstream constrains the calls (that arguments match their schemas is its
// guarantee); the gateway checks what it can see without a schema validator, so that an upstream
// that ignores tool_choice (llama.cpp's server takes a named choice for `auto`) fails loudly
// rather than answering something else: every call names a listed tool (the named one under a
// named choice), and a `required` or named choice gets calls only (text before them is refused
// before it is relayed) and at least one.
import type { ChatTools, GenerationEvent, ToolCall } from '../../src/engine/contract.js';
import { newToolCallId } from '../../src/engine/tool-calls.js';

/** The upstream's reply broke the request's tool_choice or named a tool the request did not list. */
export class UpstreamToolCallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UpstreamToolCallError';
  }
}

/** One element of a chunk's `delta.tool_calls`, as OpenAI streams it. */
export interface ToolCallDelta {
  index?: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}

type Emit = (event: GenerationEvent) => void | Promise<void>;

export class ToolCallAssembler {
  readonly #tools: ChatTools;
  readonly #emit: Emit;
  /** Our index of each upstream index, in the order the calls started. */
  readonly #indexOf = new Map<number, number>();
  readonly calls: ToolCall[] = [];

  constructor(tools: ChatTools, emit: Emit) {
    this.#tools = tools;
    this.#emit = emit;
  }

  async push(deltas: readonly ToolCallDelta[]): Promise<void> {
    for (const delta of deltas) {
      const upstreamIndex = delta.index ?? 0;
      let index = this.#indexOf.get(upstreamIndex);
      if (index === undefined) {
        const name = delta.function?.name;
        if (name === undefined || name === '') throw new UpstreamToolCallError('the upstream streamed a tool call without its function name first');
        this.#assertCallable(name);
        index = this.calls.length;
        this.#indexOf.set(upstreamIndex, index);
        const call: ToolCall = { id: delta.id || newToolCallId(), name, arguments: '' };
        this.calls.push(call);
        await this.#emit({ type: 'tool_call_start', index, id: call.id, name });
      }
      const fragment = delta.function?.arguments;
      if (fragment) {
        this.calls[index].arguments += fragment;
        await this.#emit({ type: 'tool_call_arguments', index, text: fragment });
      }
    }
  }

  /** Before a text delta is relayed: a `required` or named choice answers in calls, not text. */
  assertTextAllowed(text: string): void {
    if (this.calls.length === 0 && this.#callRequired() && text.trim() !== '')
      throw new UpstreamToolCallError(`the upstream answered in text although tool_choice was ${this.#choiceName()}`);
  }

  /** At the end of a reply that was not cut by max_tokens: a `required` or named choice made a call. */
  assertChoiceHonoured(): void {
    if (this.#callRequired() && this.calls.length === 0)
      throw new UpstreamToolCallError(`the upstream made no tool call although tool_choice was ${this.#choiceName()}`);
  }

  #callRequired(): boolean {
    return this.#tools.choice.kind === 'required' || this.#tools.choice.kind === 'function';
  }

  #choiceName(): string {
    const { choice } = this.#tools;
    return choice.kind === 'function' ? `'${choice.name}'` : `"${choice.kind}"`;
  }

  #assertCallable(name: string): void {
    const { choice, definitions } = this.#tools;
    if (choice.kind === 'none') throw new UpstreamToolCallError(`the upstream called '${name}' although tool_choice was "none"`);
    if (choice.kind === 'function' && name !== choice.name)
      throw new UpstreamToolCallError(`the upstream called '${name}' although tool_choice named '${choice.name}'`);
    if (!definitions.some((definition) => definition.name === name))
      throw new UpstreamToolCallError(`the upstream called '${name}', a tool the request did not list`);
  }
}
