// Engine results → the Responses API's response object and its stream of named events. The one
// place these shapes are written.
//
// A reply is output items in order: its thought (a `reasoning` item with the thought as
// `reasoning_text` content), its text (a `message` item with one `output_text` part), its calls
// (one `function_call` item each). The stream opens an item with its first delta, with the events
// OpenAI documents for each; every event carries `type` and a `sequence_number` counting from 0,
// and its SSE `event:` line is its type. A text or reasoning item closes when any other item
// opens (more of the same kind after that is a new item with an id of its own); a call's item
// stays open until the reply ends, because a remote upstream may interleave the argument
// fragments of parallel calls (each goes to its call's item, by its index). In the usual order
// (thought, then text, then calls) the thought and the text each close before the next item
// opens, and the calls close together at the end. A streamed reply's `response.completed`, and the stored response, list
// the items exactly as streamed (ids, order, text).
import type { GenerationResult } from '../engine/contract.js';
import type { GatewayError } from '../errors.js';
import type { ChoiceOutput, GenerationWire, StreamFrame, Usage } from './generation-wire.js';
import { newItemId } from './response-ids.js';

/** The request's fields a response echoes (what the SDK's Response type carries besides the output). */
export interface ResponseEcho {
  instructions: string | null;
  tools: unknown[];
  tool_choice: unknown;
  parallel_tool_calls: boolean;
  temperature: number | null;
  top_p: number | null;
  max_output_tokens: number | null;
  text: { format: unknown };
  reasoning: { effort: string | null; summary: string | null };
  metadata: Record<string, string>;
  previous_response_id: string | null;
  store: boolean;
  user: string | null;
}

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  /** The engines count a reply's tokens as one: the thought's are in output_tokens, and this is 0. */
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export function responsesUsage(usage: Usage): ResponsesUsage {
  return {
    input_tokens: usage.prompt_tokens,
    input_tokens_details: { cached_tokens: usage.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: usage.completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: usage.total_tokens,
  };
}

type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

/** An output item as the stream builds it. */
interface StreamedItem {
  kind: 'reasoning' | 'message' | 'function_call';
  id: string;
  outputIndex: number;
  text: string;
  call?: { callId: string; name: string };
  /** Set when the item closed. */
  status?: ItemStatus;
}

/** Error codes the SDK's ResponseError knows: a limit is `rate_limit_exceeded`, the rest `server_error`. */
function responseErrorCode(error: GatewayError): string {
  return error.status === 429 ? 'rate_limit_exceeded' : error.status === 400 ? 'invalid_prompt' : 'server_error';
}

export interface ResponsesWire extends GenerationWire {
  /** The response object of a finished generation (also what is stored). */
  response(choices: ChoiceOutput[], usage: Usage): Record<string, unknown>;
}

export interface ResponsesWireOptions {
  /**
   * The request's `include` asked for `reasoning.encrypted_content`: reasoning items then carry
   * `encrypted_content: null`. There is no encrypted thought to give: the thought is in the item's
   * `reasoning_text` content, and one sent back is not carried into the prompt anyway.
   */
  encryptedReasoning?: boolean;
}

export function responsesWire(model: string, echo: ResponseEcho, options: ResponsesWireOptions = {}): ResponsesWire {
  const id = newItemId('resp');
  const createdAt = Math.floor(Date.now() / 1000);
  // A reply that was not streamed has at most one item of each (reasoning, message, call i): its
  // ids are made once, so that the returned and the stored response name the same ones.
  const ids = new Map<string, string>();
  const idOf = (key: string, prefix: string) => {
    let itemId = ids.get(key);
    if (itemId === undefined) ids.set(key, (itemId = newItemId(prefix)));
    return itemId;
  };

  const body = (status: string, output: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    id,
    object: 'response',
    created_at: createdAt,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: echo.instructions,
    max_output_tokens: echo.max_output_tokens,
    max_tool_calls: null,
    model,
    output,
    parallel_tool_calls: echo.parallel_tool_calls,
    previous_response_id: echo.previous_response_id,
    reasoning: echo.reasoning,
    service_tier: 'default',
    store: echo.store,
    temperature: echo.temperature,
    text: echo.text,
    tool_choice: echo.tool_choice,
    tools: echo.tools,
    top_logprobs: 0,
    top_p: echo.top_p,
    truncation: 'disabled',
    usage: null,
    user: echo.user,
    metadata: echo.metadata,
    ...extra,
  });

  const reasoningItem = (itemId: string, text: string, status: ItemStatus) => ({
    type: 'reasoning',
    id: itemId,
    summary: [],
    content: [{ type: 'reasoning_text', text }],
    ...(options.encryptedReasoning ? { encrypted_content: null } : {}),
    status,
  });
  const outputText = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });
  const messageItem = (itemId: string, text: string, status: ItemStatus) => ({
    type: 'message',
    id: itemId,
    status,
    role: 'assistant',
    content: status === 'in_progress' ? [] : [outputText(text)],
  });
  const callItem = (itemId: string, callId: string, name: string, args: string, status: ItemStatus) => ({
    type: 'function_call',
    id: itemId,
    call_id: callId,
    name,
    arguments: args,
    status,
  });

  /** The output items of a finished reply: the last one is incomplete when max_output_tokens cut it. */
  const outputOf = (result: GenerationResult, text: string) => {
    const calls = result.toolCalls ?? [];
    const items: Array<(status: ItemStatus) => unknown> = [];
    if (result.reasoning !== undefined && result.reasoning !== '') items.push((status) => reasoningItem(idOf('reasoning', 'rs'), result.reasoning!, status));
    // A reply with nothing else is one empty message (a thought cut by max_output_tokens is the reasoning item alone).
    if (text !== '' || items.length + calls.length === 0) items.push((status) => messageItem(idOf('message', 'msg'), text, status));
    calls.forEach((call, index) => items.push((status) => callItem(idOf(`call ${index}`, 'fc'), call.id, call.name, call.arguments, status)));
    const cut = result.finishReason === 'length';
    return items.map((item, index) => item(cut && index === items.length - 1 ? 'incomplete' : 'completed'));
  };

  const finished = (choices: ChoiceOutput[], usage: Usage) => {
    const [{ text, result }] = choices;
    const cut = result.finishReason === 'length';
    // A streamed reply is what the stream said it was.
    const output = streamed.length > 0 ? streamed.map(doneItem) : outputOf(result, text);
    return body(cut ? 'incomplete' : 'completed', output, {
      incomplete_details: cut ? { reason: 'max_output_tokens' } : null,
      usage: responsesUsage(usage),
    });
  };

  // The stream's state (one choice: n is always 1 here).
  let sequence = 0;
  const event = (type: string, fields: Record<string, unknown>): StreamFrame => ({ event: type, data: { type, sequence_number: sequence++, ...fields } });
  /** Every item streamed, in output order. */
  const streamed: StreamedItem[] = [];
  /** The open text or reasoning item, if any. */
  let openText: StreamedItem | undefined;
  /** The open call items by the call's index in the reply. */
  const openCalls = new Map<number, StreamedItem>();
  const at = (item: StreamedItem) => ({ item_id: item.id, output_index: item.outputIndex });

  /** An item as its output_item.done event (and the response's output) shows it. */
  function doneItem(item: StreamedItem): unknown {
    const status = item.status ?? 'in_progress';
    if (item.kind === 'message') return messageItem(item.id, item.text, status);
    if (item.kind === 'reasoning') return reasoningItem(item.id, item.text, status);
    return callItem(item.id, item.call!.callId, item.call!.name, item.text, status);
  }

  const open = (kind: StreamedItem['kind'], call?: StreamedItem['call']): { item: StreamedItem; frames: StreamFrame[] } => {
    const frames = openText ? close(openText, 'completed') : [];
    const item: StreamedItem = {
      kind,
      id: newItemId(kind === 'message' ? 'msg' : kind === 'reasoning' ? 'rs' : 'fc'),
      outputIndex: streamed.length,
      text: '',
      call,
    };
    streamed.push(item);
    frames.push(
      event('response.output_item.added', {
        output_index: item.outputIndex,
        item: kind === 'reasoning' ? { ...(doneItem(item) as object), content: [] } : doneItem(item),
      }),
    );
    if (kind === 'message') frames.push(event('response.content_part.added', { ...at(item), content_index: 0, part: outputText('') }));
    if (kind === 'reasoning') frames.push(event('response.content_part.added', { ...at(item), content_index: 0, part: { type: 'reasoning_text', text: '' } }));
    if (kind !== 'function_call') openText = item;
    return { item, frames };
  };

  function close(item: StreamedItem, status: ItemStatus): StreamFrame[] {
    item.status = status;
    if (item === openText) openText = undefined;
    const where = at(item);
    switch (item.kind) {
      case 'message':
        return [
          event('response.output_text.done', { ...where, content_index: 0, text: item.text, logprobs: [] }),
          event('response.content_part.done', { ...where, content_index: 0, part: outputText(item.text) }),
          event('response.output_item.done', { output_index: item.outputIndex, item: doneItem(item) }),
        ];
      case 'reasoning':
        return [
          event('response.reasoning_text.done', { ...where, content_index: 0, text: item.text }),
          event('response.content_part.done', { ...where, content_index: 0, part: { type: 'reasoning_text', text: item.text } }),
          event('response.output_item.done', { output_index: item.outputIndex, item: doneItem(item) }),
        ];
      case 'function_call':
        return [
          event('response.function_call_arguments.done', { ...where, name: item.call!.name, arguments: item.text }),
          event('response.output_item.done', { output_index: item.outputIndex, item: doneItem(item) }),
        ];
    }
  }

  /** Text or reasoning: appended to the open item of its kind, or to a new one. */
  const streamText = (kind: 'message' | 'reasoning', text: string, delta: (item: StreamedItem) => StreamFrame) => {
    if (text === '') return [];
    const { item, frames } = openText?.kind === kind ? { item: openText, frames: [] } : open(kind);
    item.text += text;
    frames.push(delta(item));
    return frames;
  };

  return {
    id,
    streamStart: () => {
      const created = body('in_progress', []);
      return [event('response.created', { response: created }), event('response.in_progress', { response: created })];
    },
    streamReasoning: (_index, text) =>
      streamText('reasoning', text, (item) => event('response.reasoning_text.delta', { ...at(item), content_index: 0, delta: text })),
    streamDelta: (_index, text) =>
      streamText('message', text, (item) => event('response.output_text.delta', { ...at(item), content_index: 0, delta: text, logprobs: [] })),
    streamToolCallStart: (_index, call) => {
      // A call starts once; a repeated start adds nothing.
      if (openCalls.has(call.index)) return [];
      const { item, frames } = open('function_call', { callId: call.id, name: call.name });
      openCalls.set(call.index, item);
      return frames;
    },
    streamToolCallArguments: (_index, callIndex, text) => {
      const item = openCalls.get(callIndex);
      if (text === '' || item === undefined) return [];
      item.text += text;
      return [event('response.function_call_arguments.delta', { ...at(item), delta: text })];
    },
    streamFinish: (_index, { result }) => {
      // A reply with nothing in it is still one (empty) message, as outputOf lists it.
      const frames = streamed.length === 0 ? open('message').frames : [];
      // The open items close in output order; the last is incomplete when max_output_tokens cut the reply.
      const cut = result.finishReason === 'length';
      for (const item of streamed.filter((other) => other.status === undefined))
        frames.push(...close(item, cut && item.outputIndex === streamed.length - 1 ? 'incomplete' : 'completed'));
      openCalls.clear();
      return frames;
    },
    streamEnd: (choices, usage) => {
      const response = finished(choices, usage);
      return [event(response.status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response })];
    },
    endsWithDone: false,
    // The failed response (what the SDK's stream helper keeps), then the error itself (what it raises).
    streamError: (error) => {
      return [
        event('response.failed', { response: body('failed', [], { error: { code: responseErrorCode(error), message: error.message } }) }),
        event('error', { code: error.code, message: error.message, param: error.param }),
      ];
    },
    response: finished,
  };
}
