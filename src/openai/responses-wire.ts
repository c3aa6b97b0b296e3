// Engine results → the Responses API's response object and its stream of named events. The one
// place these shapes are written.
//
// A reply is output items in order: its thought (a `reasoning` item with the thought as
// `reasoning_text` content), its text (a `message` item with one `output_text` part), its calls
// (one `function_call` item each). The stream opens an item with its first delta and closes it
// when the next one opens or the reply ends, with the events OpenAI documents for each; every
// event carries `type` and a `sequence_number` counting from 0, and its SSE `event:` line is its
// type. The items' ids are made once per wire, so that the streamed items, the final
// `response.completed` and the stored response all name the same ones.
import type { GenerationResult } from '../engine/contract.js';
import type { GatewayError } from '../errors.js';
import type { ChoiceOutput, GenerationWire, StreamFrame, Usage } from './generation-wire.js';
import { newItemId } from './responses-to-chat.js';

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
interface OpenItem {
  kind: 'reasoning' | 'message' | 'function_call';
  id: string;
  outputIndex: number;
  text: string;
  call?: { callId: string; name: string };
}

/** Error codes the SDK's ResponseError knows: a limit is `rate_limit_exceeded`, the rest `server_error`. */
function responseErrorCode(error: GatewayError): string {
  return error.status === 429 ? 'rate_limit_exceeded' : error.status === 400 ? 'invalid_prompt' : 'server_error';
}

export interface ResponsesWire extends GenerationWire {
  /** The response object of a finished generation (also what is stored). */
  response(choices: ChoiceOutput[], usage: Usage): Record<string, unknown>;
}

export function responsesWire(model: string, echo: ResponseEcho): ResponsesWire {
  const id = newItemId('resp');
  const createdAt = Math.floor(Date.now() / 1000);
  // One id per item, whether the item is streamed, returned or stored.
  const ids = new Map<string, string>();
  const idOf = (key: string, prefix: string) => {
    let itemId = ids.get(key);
    if (itemId === undefined) ids.set(key, (itemId = newItemId(prefix)));
    return itemId;
  };
  const reasoningId = () => idOf('reasoning', 'rs');
  const messageId = () => idOf('message', 'msg');
  const callItemId = (index: number) => idOf(`call ${index}`, 'fc');

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

  const reasoningItem = (text: string, status: ItemStatus) => ({
    type: 'reasoning',
    id: reasoningId(),
    summary: [],
    content: [{ type: 'reasoning_text', text }],
    status,
  });
  const outputText = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });
  const messageItem = (text: string, status: ItemStatus) => ({
    type: 'message',
    id: messageId(),
    status,
    role: 'assistant',
    content: status === 'in_progress' ? [] : [outputText(text)],
  });
  const callItem = (index: number, callId: string, name: string, args: string, status: ItemStatus) => ({
    type: 'function_call',
    id: callItemId(index),
    call_id: callId,
    name,
    arguments: args,
    status,
  });

  /** The output items of a finished reply: the last one is incomplete when max_output_tokens cut it. */
  const outputOf = (result: GenerationResult, text: string) => {
    const calls = result.toolCalls ?? [];
    const items: Array<(status: ItemStatus) => unknown> = [];
    if (result.reasoning !== undefined && result.reasoning !== '') items.push((status) => reasoningItem(result.reasoning!, status));
    // A reply with nothing else is one empty message (a thought cut by max_output_tokens is the reasoning item alone).
    if (text !== '' || items.length + calls.length === 0) items.push((status) => messageItem(text, status));
    calls.forEach((call, index) => items.push((status) => callItem(index, call.id, call.name, call.arguments, status)));
    const cut = result.finishReason === 'length';
    return items.map((item, index) => item(cut && index === items.length - 1 ? 'incomplete' : 'completed'));
  };

  const finished = (choices: ChoiceOutput[], usage: Usage) => {
    const [{ text, result }] = choices;
    const cut = result.finishReason === 'length';
    return body(cut ? 'incomplete' : 'completed', outputOf(result, text), {
      incomplete_details: cut ? { reason: 'max_output_tokens' } : null,
      usage: responsesUsage(usage),
    });
  };

  // The stream's state (one choice: n is always 1 here).
  let sequence = 0;
  const event = (type: string, fields: Record<string, unknown>): StreamFrame => ({ event: type, data: { type, sequence_number: sequence++, ...fields } });
  const opened: OpenItem[] = [];
  let current: OpenItem | undefined;
  const at = (item: OpenItem) => ({ item_id: item.id, output_index: item.outputIndex });

  const open = (kind: OpenItem['kind'], itemId: string, item: unknown, call?: OpenItem['call']): StreamFrame[] => {
    const frames = close('completed');
    current = { kind, id: itemId, outputIndex: opened.length, text: '', call };
    opened.push(current);
    frames.push(event('response.output_item.added', { output_index: current.outputIndex, item }));
    if (kind === 'message') frames.push(event('response.content_part.added', { ...at(current), content_index: 0, part: outputText('') }));
    if (kind === 'reasoning')
      frames.push(event('response.content_part.added', { ...at(current), content_index: 0, part: { type: 'reasoning_text', text: '' } }));
    return frames;
  };

  function close(status: ItemStatus): StreamFrame[] {
    const item = current;
    if (item === undefined) return [];
    current = undefined;
    const where = at(item);
    switch (item.kind) {
      case 'message':
        return [
          event('response.output_text.done', { ...where, content_index: 0, text: item.text, logprobs: [] }),
          event('response.content_part.done', { ...where, content_index: 0, part: outputText(item.text) }),
          event('response.output_item.done', { output_index: item.outputIndex, item: messageItem(item.text, status) }),
        ];
      case 'reasoning':
        return [
          event('response.reasoning_text.done', { ...where, content_index: 0, text: item.text }),
          event('response.content_part.done', { ...where, content_index: 0, part: { type: 'reasoning_text', text: item.text } }),
          event('response.output_item.done', { output_index: item.outputIndex, item: reasoningItem(item.text, status) }),
        ];
      case 'function_call': {
        const callIndex = opened.filter((other) => other.kind === 'function_call').indexOf(item);
        return [
          event('response.function_call_arguments.done', { ...where, name: item.call!.name, arguments: item.text }),
          event('response.output_item.done', {
            output_index: item.outputIndex,
            item: callItem(callIndex, item.call!.callId, item.call!.name, item.text, status),
          }),
        ];
      }
    }
  }

  return {
    id,
    streamStart: () => {
      const created = body('in_progress', []);
      return [event('response.created', { response: created }), event('response.in_progress', { response: created })];
    },
    streamReasoning: (_index, text) => {
      if (text === '') return [];
      const frames = current?.kind === 'reasoning' ? [] : open('reasoning', reasoningId(), { ...reasoningItem('', 'in_progress'), content: [] });
      current!.text += text;
      frames.push(event('response.reasoning_text.delta', { ...at(current!), content_index: 0, delta: text }));
      return frames;
    },
    streamDelta: (_index, text) => {
      if (text === '') return [];
      const frames = current?.kind === 'message' ? [] : open('message', messageId(), messageItem('', 'in_progress'));
      current!.text += text;
      frames.push(event('response.output_text.delta', { ...at(current!), content_index: 0, delta: text, logprobs: [] }));
      return frames;
    },
    streamToolCallStart: (_index, call) =>
      open('function_call', callItemId(call.index), callItem(call.index, call.id, call.name, '', 'in_progress'), { callId: call.id, name: call.name }),
    streamToolCallArguments: (_index, _callIndex, text) => {
      if (text === '' || current?.kind !== 'function_call') return [];
      current.text += text;
      return [event('response.function_call_arguments.delta', { ...at(current), delta: text })];
    },
    streamFinish: (_index, { result }) => {
      // A reply with nothing in it is still one (empty) message, as outputOf lists it.
      const frames = opened.length === 0 ? open('message', messageId(), messageItem('', 'in_progress')) : [];
      return [...frames, ...close(result.finishReason === 'length' ? 'incomplete' : 'completed')];
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
