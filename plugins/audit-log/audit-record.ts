// One audit line: who asked which model for what, and how it ended. Prompts and outputs only
// when the operator asked for them, with every configured pattern redacted.
import type { PluginRequest, PluginResponse } from '../../src/plugins/plugin-api.js';

export const REDACTED = '[REDACTED]';

/** Replaces every match of the patterns in every string inside `value`. */
export function redact(value: unknown, patterns: readonly RegExp[]): unknown {
  if (patterns.length === 0) return value;
  if (typeof value === 'string') return patterns.reduce((text, pattern) => text.replace(pattern, REDACTED), value);
  if (Array.isArray(value)) return value.map((item) => redact(item, patterns));
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redact(item, patterns)]));
  return value;
}

/** What the client sent as its prompt, per endpoint. */
export function promptOf(request: PluginRequest): unknown {
  const body = request.body;
  switch (request.endpoint) {
    case '/v1/chat/completions':
      return body.messages;
    case '/v1/completions':
      return body.prompt;
    case '/v1/embeddings':
      return body.input;
    case '/v1/rerank':
      return { query: body.query, documents: body.documents };
  }
}

/** The generated text of each choice of a non-streamed chat or text completion. */
export function outputsOfBody(body: unknown): string[] | undefined {
  const choices = (body as { choices?: Array<{ index?: number; message?: { content?: unknown }; text?: unknown }> } | undefined)?.choices;
  if (!Array.isArray(choices)) return undefined;
  return choices.map((choice) => String(choice.message?.content ?? choice.text ?? ''));
}

/** Adds the text of one stream chunk to the choices' texts. */
export function collectChunk(chunk: Record<string, unknown>, texts: string[]): void {
  const choices = chunk.choices as Array<{ index?: number; delta?: { content?: unknown }; text?: unknown }> | undefined;
  if (!Array.isArray(choices)) return;
  for (const choice of choices) {
    const piece = choice.delta?.content ?? choice.text;
    if (typeof piece === 'string' && piece !== '') texts[choice.index ?? 0] = (texts[choice.index ?? 0] ?? '') + piece;
  }
}

export interface AuditContent {
  patterns: readonly RegExp[];
  streamedTexts?: string[];
}

export function auditRecord(response: PluginResponse, request: PluginRequest, content?: AuditContent): Record<string, unknown> {
  const record: Record<string, unknown> = {
    time: request.startedAt.toISOString(),
    request_id: request.id,
    key: request.keyName ?? null,
    endpoint: request.endpoint,
    model: response.model ?? (typeof request.body.model === 'string' ? request.body.model : null),
    status: response.clientClosed ? 499 : response.status,
    duration_ms: Number(response.durationMs.toFixed(1)),
    stream: response.streamed,
    prompt_tokens: response.usage?.prompt_tokens ?? null,
    completion_tokens: response.usage?.completion_tokens ?? null,
    total_tokens: response.usage?.total_tokens ?? null,
  };
  if (response.error) record.error = { type: response.error.type, code: response.error.code };
  if (content) {
    record.prompt = redact(promptOf(request), content.patterns);
    const outputs = response.streamed ? content.streamedTexts?.map((text) => text ?? '') : outputsOfBody(response.body);
    if (outputs && outputs.length > 0) record.output = redact(outputs.length === 1 ? outputs[0] : outputs, content.patterns);
  }
  return record;
}
