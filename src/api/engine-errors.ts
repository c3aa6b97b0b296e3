// Maps what an engine adapter throws to what a client should see. Adapters know nothing of
// HTTP; they throw typed errors, and this is where those become statuses.
import { InputTooLongError, InvalidInputError, TokenTimeoutError, UnsupportedFeatureError } from '../engine/errors.js';
import { errors, GatewayError } from '../errors.js';

export function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof UnsupportedFeatureError) return errors.invalidRequest(error.message, error.param ?? null, 'unsupported_parameter');
  if (error instanceof InvalidInputError) return errors.invalidRequest(error.message, error.param ?? null, 'invalid_input');
  if (error instanceof InputTooLongError) return errors.invalidRequest(error.message, error.param ?? 'input', 'context_length_exceeded');
  if (error instanceof TokenTimeoutError) return errors.generationTimeout(`Generation stopped: ${error.message}.`);
  return errors.internal(error);
}
