// The text-shaping pieces of the llama.cpp adapter: stop-string holdback, token-to-text decoding
// (with the real stories260k tokenizer, whose byte tokens split multibyte characters) and the
// JSON Schema conversion that feeds the grammar compiler.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, test } from 'node:test';
import { getLlama, type LlamaModel } from 'node-llama-cpp';
import { toGrammarJsonSchema } from '../../src/backends/llama/json-schema-conversion.js';
import { StopStringHoldback } from '../../src/backends/llama/stop-string-holdback.js';
import { TokenTextDecoder } from '../../src/backends/llama/token-text-decoder.js';
import { UnsupportedFeatureError } from '../../src/engine/errors.js';
import { models } from '../helpers/paths.js';

function feed(holdback: StopStringHoldback, pieces: string[]): { released: string[]; stopped: boolean } {
  const released: string[] = [];
  for (const piece of pieces) {
    const output = holdback.push(piece);
    released.push(output.text);
    if (output.stopped) return { released, stopped: true };
  }
  const last = holdback.finish();
  released.push(last.text);
  return { released, stopped: last.stopped };
}

test('a stop string split across pieces is caught and never released', () => {
  const { released, stopped } = feed(new StopStringHoldback(['lo w']), ['Hel', 'l', 'o', ' wor', 'ld']);
  assert.equal(stopped, true);
  assert.equal(released.join(''), 'Hel');
  assert.deepEqual(released, ['He', 'l', '', ''], 'each "l" is held until the next piece shows it does not start "lo w"');
});

test('text that only looked like a stop string is released once it is decided', () => {
  const holdback = new StopStringHoldback(['STOP']);
  assert.deepEqual(holdback.push('go ST'), { text: 'go ', stopped: false });
  assert.deepEqual(holdback.push('ART'), { text: 'START', stopped: false });
  assert.deepEqual(holdback.push(' S'), { text: ' ', stopped: false });
  assert.deepEqual(holdback.finish(), { text: 'S', stopped: false }, 'a partial stop string at the end is plain text');
});

test('the earliest of several stop strings wins, and is the one reported', () => {
  const holdback = new StopStringHoldback(['world', 'o w']);
  const { released } = feed(holdback, ['hello world']);
  assert.equal(released.join(''), 'hell');
  assert.equal(holdback.stoppedBy, 'o w');
  assert.equal(new StopStringHoldback(['x']).stoppedBy, undefined);
});

test('leading whitespace can be dropped and trailing whitespace held back', () => {
  const chat = feed(new StopStringHoldback([], { trimLeadingWhitespace: true }), [' ', '\n', ' Hi', ' there']);
  assert.equal(chat.released.join(''), 'Hi there');
  const holdback = new StopStringHoldback(['\n\n\n\n'], { trimTrailingWhitespace: true });
  assert.equal(holdback.push('{"a": 1}').text, '{"a": 1}');
  assert.equal(holdback.push(' \n').text, '');
  assert.equal(holdback.push('\n').text, '');
  assert.deepEqual(holdback.push('\n\n\n'), { text: '', stopped: true });
});

let model: LlamaModel | undefined;
after(async () => model?.dispose());

test('decoding never splits a multibyte character and keeps the spaces between pieces', { skip: !existsSync(models.stories) && 'no test models' }, async () => {
  const llama = await getLlama({ gpu: false, build: 'never' });
  model = await llama.loadModel({ modelPath: models.stories });
  const text = 'Hello 世界! café';
  const tokens = model.tokenize(text, false);
  assert.ok(tokens.length > text.length - 4, 'the tiny vocabulary spells the characters in bytes');
  const decoder = new TokenTextDecoder(model, [model.tokens.bos!]);
  const pieces = tokens.map((token) => decoder.push(token));
  pieces.push(decoder.flush());
  assert.ok(
    pieces.every((piece) => !piece.includes('\uFFFD')),
    JSON.stringify(pieces),
  );
  assert.equal(pieces.join(''), model.detokenize(tokens));
  assert.ok(pieces.includes('世') && pieces.includes('é'), 'multibyte characters come out whole');
  assert.ok(pieces.includes(' '), 'a lone SentencePiece space survives being decoded on its own');
});

function refused(schema: Record<string, unknown>, pattern: RegExp): void {
  assert.throws(
    () => toGrammarJsonSchema(schema),
    (error: unknown) => error instanceof UnsupportedFeatureError && pattern.test(error.message) && error.field === 'constraint',
  );
}

test('JSON Schema conversion keeps what the grammar can enforce', () => {
  assert.deepEqual(
    toGrammarJsonSchema({
      title: 'Person',
      type: 'object',
      properties: {
        name: { type: 'string', description: 'Full name', maxLength: 20 },
        nickname: { type: ['string', 'null'] },
        pet: { anyOf: [{ $ref: '#/definitions/Pet' }, { type: 'null' }] },
        born: { type: 'string', format: 'date' },
        tags: { type: 'array', items: { enum: ['a', 'b'] }, maxItems: 3 },
        age: { type: 'integer', nullable: true },
      },
      required: ['name'],
      additionalProperties: false,
      definitions: { Pet: { type: 'object', properties: { kind: { const: 'cat' } } } },
    }),
    {
      type: 'object',
      properties: {
        name: { type: 'string', maxLength: 20 },
        nickname: { oneOf: [{ type: 'string' }, { type: 'null' }] },
        pet: { oneOf: [{ $ref: '#/$defs/Pet' }, { type: 'null' }] },
        born: { type: 'string', format: 'date' },
        tags: { type: 'array', items: { enum: ['a', 'b'] }, maxItems: 3 },
        age: { oneOf: [{ type: 'integer' }, { type: 'null' }] },
      },
      required: ['name'],
      additionalProperties: false,
      $defs: { Pet: { type: 'object', properties: { kind: { const: 'cat' } } } },
    },
  );
  assert.deepEqual(toGrammarJsonSchema({ type: 'object' }), { type: 'object', properties: {}, additionalProperties: true });
});

test('JSON Schema keywords the grammar cannot enforce are refused with their path', () => {
  refused({ type: 'object', properties: { code: { type: 'string', pattern: '^[A-Z]+$' } } }, /keyword "pattern" .* at \$\.properties\.code\.pattern/);
  refused({ type: 'number', minimum: 0 }, /"minimum"/);
  refused({ type: 'string', format: 'email' }, /format "email"/);
  refused({ allOf: [{ type: 'string' }, { type: 'number' }] }, /allOf with more than one/);
  refused({ $ref: 'https://example.com/schema.json' }, /reference/);
  refused({ type: 'object', required: ['missing'], properties: {} }, /required property "missing"/);
});
