// The limits checked before a request's work starts: the character bound of a text, and the
// JSON Schema limits, each refusal naming the limit, its value and where in the schema it was hit.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHARACTERS_PER_TOKEN, characterBound, cutToCharacterBound } from '../../src/backends/character-bound.js';
import { mapInTimeSlices } from '../../src/backends/time-sliced-map.js';
import { GatewayError } from '../../src/errors.js';
import { checkInputFits, checkJsonSchemaLimits, checkPromptFits, JSON_SCHEMA_LIMITS } from '../../src/openai/request-limits.js';

function refusal(check: () => void): GatewayError {
  try {
    check();
  } catch (error) {
    assert.ok(error instanceof GatewayError, String(error));
    assert.equal(error.status, 400);
    return error;
  }
  assert.fail('expected a 400');
}

describe('character bound', () => {
  test('a text within the bound is returned as is; a longer one keeps the end the model keeps', () => {
    const text = 'abc '.repeat(100);
    assert.equal(cutToCharacterBound(text, 100), text);
    assert.equal(characterBound(4), 4 * CHARACTERS_PER_TOKEN);
    assert.equal(cutToCharacterBound('a'.repeat(100) + 'b'.repeat(100), 4), 'a'.repeat(64));
    assert.equal(cutToCharacterBound('a'.repeat(100) + 'b'.repeat(100), 4, 'left'), 'b'.repeat(64));
  });

  test('the cut never splits a surrogate pair', () => {
    const text = 'a'.repeat(63) + '😀'.repeat(10);
    assert.equal(cutToCharacterBound(text, 4), 'a'.repeat(63));
    const tail = '😀'.repeat(10) + 'a'.repeat(63);
    assert.equal(cutToCharacterBound(tail, 4, 'left'), 'a'.repeat(63));
  });

  test('a model without a token limit (a remote one) is never cut', () => {
    assert.equal(characterBound(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
    assert.equal(cutToCharacterBound('abc', Number.MAX_SAFE_INTEGER), 'abc');
  });

  test('with truncation off, an input over the bound is a 400 naming both limits', () => {
    checkInputFits(512 * CHARACTERS_PER_TOKEN, 512, 'input');
    const error = refusal(() => checkInputFits(512 * CHARACTERS_PER_TOKEN + 1, 512, 'input[2]'));
    assert.equal(error.param, 'input[2]');
    assert.equal(error.code, 'context_length_exceeded');
    assert.match(error.message, /8193 characters, more than the 8192 characters \(512 tokens × 16 characters per token\)/);
  });

  test('a prompt over the bound of the context is a 400; a model without a known context is not checked', () => {
    checkPromptFits(10_000_000, undefined, 'messages');
    const error = refusal(() => checkPromptFits(2048 * CHARACTERS_PER_TOKEN + 1, 2048, 'messages'));
    assert.equal(error.code, 'context_length_exceeded');
    assert.match(error.message, /maximum context length is 2048 tokens/);
  });
});

describe('time-sliced map', () => {
  test('maps in order and yields to the event loop during long work', async () => {
    let turns = 0;
    const ticking = setInterval(() => turns++, 0);
    const busy = (milliseconds: number) => {
      const until = performance.now() + milliseconds;
      while (performance.now() < until);
    };
    const results = await mapInTimeSlices(
      Array.from({ length: 20 }, (_, index) => index),
      (item) => {
        busy(5);
        return item * 2;
      },
    );
    clearInterval(ticking);
    assert.deepEqual(
      results,
      Array.from({ length: 20 }, (_, index) => index * 2),
    );
    assert.ok(turns >= 3, `the event loop ran ${turns} timers during 100 ms of work`);
  });

  test('stops at the next slice once its signal is aborted', async () => {
    const controller = new AbortController();
    const work = mapInTimeSlices(
      Array.from({ length: 100 }, (_, index) => index),
      (item) => {
        const until = performance.now() + 2;
        while (performance.now() < until);
        if (item === 10) controller.abort();
        return item;
      },
      controller.signal,
    );
    await assert.rejects(work, { name: 'AbortError' });
  });
});

describe('JSON schema limits', () => {
  const ok = (schema: unknown) => checkJsonSchemaLimits(schema, 'json_schema');
  const refused = (schema: unknown) => refusal(() => checkJsonSchemaLimits(schema, 'response_format.json_schema.schema'));

  test('an ordinary schema passes', () => {
    ok({
      type: 'object',
      properties: {
        name: { type: 'string', maxLength: 100 },
        tags: { type: 'array', items: { enum: ['a', 'b'] }, maxItems: 10 },
        friend: { $ref: '#/$defs/friend' },
      },
      required: ['name'],
      $defs: { friend: { type: 'object', properties: { name: { type: 'string' } } } },
    });
  });

  test('depth: any nesting is refused without recursion, naming the limit and the path', () => {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let level = 0; level < 100_000; level++) schema = { type: 'object', properties: { next: schema } };
    const error = refused(schema);
    assert.equal(error.param, 'response_format.json_schema.schema');
    assert.equal(error.code, 'json_schema_too_large');
    assert.match(error.message, new RegExp(`nested deeper than the limit of ${JSON_SCHEMA_LIMITS.maxDepth} levels \\(at \\$\\.properties\\.next\\.properties`));
    let within: Record<string, unknown> = { type: 'string' };
    for (let level = 0; level < 30; level++) within = { type: 'object', properties: { next: within } };
    ok(within);
  });

  test('enum values in the whole schema, and their characters', () => {
    const values = (count: number, width = 4) => Array.from({ length: count }, (_, index) => String(index).padStart(width, '0'));
    ok({ enum: values(JSON_SCHEMA_LIMITS.maxEnumValues) });
    assert.match(
      refused({ type: 'object', properties: { a: { enum: values(600) }, b: { enum: values(600) } } }).message,
      /more than the limit of 1000 enum values in all \(at \$\.properties\.b\.enum\)/,
    );
    assert.match(refused({ type: 'array', items: { enum: values(500, 200) } }).message, /more than the limit of 60000 characters of enum and const values/);
  });

  test('properties in the whole schema; a property named like a keyword is a name, not a keyword', () => {
    const properties = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`p${index}`, { type: 'integer' }]));
    ok({ type: 'object', properties: properties(JSON_SCHEMA_LIMITS.maxProperties) });
    assert.match(
      refused({ type: 'object', properties: properties(JSON_SCHEMA_LIMITS.maxProperties + 1) }).message,
      /more than the limit of 1000 properties in all \(at \$\.properties\)/,
    );
    ok({ type: 'object', properties: { maxLength: { type: 'integer' }, enum: { type: 'string' } } });
  });

  test('repetition bounds, one by one and in total', () => {
    assert.match(
      refused({ type: 'object', properties: { text: { type: 'string', maxLength: 100_000 } } }).message,
      /maxLength 100000, above the limit of 1000 for a repetition bound \(at \$\.properties\.text\.maxLength\)/,
    );
    assert.match(refused({ type: 'array', minItems: 5_000 }).message, /minItems 5000/);
    const many = Object.fromEntries(Array.from({ length: 6 }, (_, index) => [`p${index}`, { type: 'string', maxLength: 1_000 }]));
    assert.match(refused({ type: 'object', properties: many }).message, /adding up to more than the limit of 5000/);
    ok({
      anyOf: [
        { type: 'string', maxLength: 1_000 },
        { type: 'array', maxItems: 1_000 },
      ],
    });
  });

  test('serialized size', () => {
    const error = refused({ type: 'string', description: 'x'.repeat(JSON_SCHEMA_LIMITS.maxCharacters) });
    assert.match(error.message, /larger than the limit of 131072 characters/);
  });
});
