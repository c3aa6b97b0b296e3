// Reads the text of a grammar-bound call reply (see tool-call-grammar.ts) as it is generated and
// turns it into tool-call events: a call's start once its name is complete, then its arguments as
// fragments, holding back only what could be the start of the call's closing syntax.
import type { GenerationEvent, ToolCall } from '../../engine/contract.js';
import { newToolCallId } from '../../engine/tool-calls.js';
import { partialMarkerAtEnd } from '../partial-marker.js';
import type { CallSyntax } from './call-syntax.js';

type Emit = (event: GenerationEvent) => void | Promise<void>;

export class ToolCallReader {
  readonly #syntax: CallSyntax;
  readonly #emit: Emit;
  #buffer = '';
  #state: 'opening' | 'name' | 'arguments' | 'between' = 'opening';
  #opened = false;
  #current?: ToolCall;
  readonly calls: ToolCall[] = [];

  constructor(syntax: CallSyntax, emit: Emit) {
    // Nothing would mark where a call's arguments end (toolCallGrammar refuses such a syntax first).
    if (syntax.suffix === '') throw new Error('a call syntax with an empty suffix cannot be read');
    this.#syntax = syntax;
    this.#emit = emit;
  }

  /** Reads more of the reply; the promise settles once its events were taken. */
  async push(text: string): Promise<void> {
    this.#buffer += text;
    for (;;) {
      const progressed = await this.#step();
      if (!progressed) return;
    }
  }

  /**
   * At the end of the reply: a call cut by max_tokens keeps the arguments streamed so far, so the
   * reply holds what a streaming client received (text held back as a possible start of the
   * closing syntax was never sent and stays out). Its arguments may not parse: only a reply that
   * finished with tool_calls guarantees that.
   */
  end(): void {
    if (this.#state !== 'arguments') return;
    this.calls.push(this.#current!);
    this.#current = undefined;
    this.#state = 'between';
  }

  async #step(): Promise<boolean> {
    const syntax = this.#syntax;
    switch (this.#state) {
      case 'opening': {
        // Checked, not just cut: leading whitespace is the only freedom (an engine may trim it, a model may add it).
        const opening = ((this.#opened ? '' : syntax.sectionPrefix) + syntax.prefix).trimStart();
        const text = this.#buffer.trimStart();
        if (text.length < opening.length) return false;
        if (!text.startsWith(opening))
          throw new Error(`a tool call does not open with its syntax's ${JSON.stringify(opening)}: ${JSON.stringify(text.slice(0, 80))}`);
        this.#buffer = text.slice(opening.length);
        this.#opened = true;
        this.#state = 'name';
        return true;
      }
      case 'name': {
        const at = this.#buffer.indexOf(syntax.paramsPrefix);
        if (at < 0) return false;
        this.#current = { id: newToolCallId(), name: this.#buffer.slice(0, at), arguments: '' };
        this.#buffer = this.#buffer.slice(at + syntax.paramsPrefix.length);
        this.#state = 'arguments';
        await this.#emit({ type: 'tool_call_start', index: this.calls.length, id: this.#current.id, name: this.#current.name });
        return true;
      }
      case 'arguments': {
        const call = this.#current!;
        const end = this.#buffer.indexOf(syntax.suffix);
        const releasable = end >= 0 ? end : this.#buffer.length - partialMarkerAtEnd(this.#buffer, syntax.suffix);
        const fragment = this.#buffer.slice(0, releasable);
        if (fragment !== '') {
          call.arguments += fragment;
          await this.#emit({ type: 'tool_call_arguments', index: this.calls.length, text: fragment });
        }
        if (end < 0) {
          this.#buffer = this.#buffer.slice(releasable);
          return false;
        }
        this.#buffer = this.#buffer.slice(end + syntax.suffix.length);
        this.calls.push(call);
        this.#current = undefined;
        this.#state = 'between';
        return true;
      }
      case 'between': {
        const between = syntax.betweenCalls ?? '';
        if (this.#buffer.length === 0 || this.#buffer.length < between.length) return false;
        this.#buffer = this.#buffer.slice(between.length);
        this.#state = 'opening';
        return true;
      }
    }
  }
}
