// Wire sampling fields → the engine's GenerationOptions (less maxTokens and signal, which the
// route resolves once it knows the prompt's length).
import type { GenerationOptions, OutputConstraint } from '../engine/contract.js';
import { errors } from '../errors.js';
import type { SamplingRequest } from './generation-request.js';
import { checkJsonSchemaLimits } from './request-limits.js';

export type SamplingOptions = Omit<GenerationOptions, 'maxTokens' | 'signal' | 'onEvent'>;

function outputConstraint(request: SamplingRequest): OutputConstraint | undefined {
  const given: Array<[string, OutputConstraint | undefined]> = [];
  const format = request.response_format;
  if (format && format.type !== 'text') {
    if (format.type === 'json_object') given.push(['response_format', { kind: 'json_object' }]);
    else {
      const schema = format.json_schema.schema;
      if (!schema) throw errors.invalidRequest("Missing required parameter: 'response_format.json_schema.schema'.", 'response_format.json_schema.schema');
      checkJsonSchemaLimits(schema, 'response_format.json_schema.schema');
      given.push(['response_format', { kind: 'json_schema', schema }]);
    }
  }
  if (request.grammar) given.push(['grammar', { kind: 'gbnf', grammar: request.grammar }]);
  if (request.json_schema) {
    checkJsonSchemaLimits(request.json_schema, 'json_schema');
    given.push(['json_schema', { kind: 'json_schema', schema: request.json_schema }]);
  }
  if (given.length > 1) {
    throw errors.invalidRequest(
      `Only one of response_format, grammar and json_schema may constrain the output; found ${given.map(([name]) => name).join(' and ')}.`,
      given[1][0],
    );
  }
  return given[0]?.[1];
}

export function samplingOptions(request: SamplingRequest, defaultTemperature: number): SamplingOptions {
  const stop = request.stop == null ? [] : typeof request.stop === 'string' ? [request.stop] : request.stop;
  return {
    temperature: request.temperature ?? defaultTemperature,
    topP: request.top_p ?? undefined,
    topK: request.top_k ?? undefined,
    minP: request.min_p ?? undefined,
    seed: request.seed ?? undefined,
    stop: stop.filter((text) => text !== ''),
    presencePenalty: request.presence_penalty ?? undefined,
    frequencyPenalty: request.frequency_penalty ?? undefined,
    repeatPenalty: request.repeat_penalty ?? undefined,
    logitBias: request.logit_bias ? Object.fromEntries(Object.entries(request.logit_bias).map(([token, bias]) => [Number(token), bias])) : undefined,
    constraint: outputConstraint(request),
  };
}
