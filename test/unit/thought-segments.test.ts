// The engine-neutral thought splitter: whatever the cut of the generated text into pieces (markers
// split across tokens), the thought and the answer come out the same, without markers or the blank
// lines around them; and the thought budget each reasoning_effort allows.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { effortCovering, promptOpensThought, thinkingBudget, thoughtMarkersOf, ThoughtSplitter } from '../../src/backends/thought-segments.js';

const THINK = { start: '<think>', end: '</think>' };

function split(pieces: string[], opensInThought: boolean): { reasoning: string; text: string; kinds: string[] } {
  const splitter = new ThoughtSplitter(THINK, { opensInThought });
  const out = [...pieces.flatMap((piece) => splitter.push(piece)), ...splitter.finish()];
  return {
    reasoning: out
      .filter((piece) => piece.kind === 'reasoning')
      .map((piece) => piece.text)
      .join(''),
    text: out
      .filter((piece) => piece.kind === 'text')
      .map((piece) => piece.text)
      .join(''),
    kinds: out.map((piece) => piece.kind),
  };
}

/** Every cut of `text` into pieces of `size` characters. */
function cuts(text: string): string[][] {
  return [1, 2, 3, 5, 8, text.length].map((size) =>
    Array.from({ length: Math.ceil(text.length / size) }, (_, index) => text.slice(index * size, (index + 1) * size)),
  );
}

describe('thought splitter', () => {
  test('a thought the prompt opened, then the answer, whatever the cut', () => {
    for (const pieces of cuts('\nLet me see.\n</think>\n\nOnce upon a time.')) {
      const result = split(pieces, true);
      assert.deepEqual({ reasoning: result.reasoning, text: result.text }, { reasoning: 'Let me see.', text: 'Once upon a time.' }, JSON.stringify(pieces));
      assert.ok(result.kinds.lastIndexOf('reasoning') < result.kinds.indexOf('text'));
    }
  });

  test('a thought the model opens at the start of its reply', () => {
    for (const pieces of cuts('  <think>hmm</think>Yes.'))
      assert.deepEqual(split(pieces, false), { reasoning: 'hmm', text: 'Yes.', kinds: split(pieces, false).kinds });
  });

  test('markers after the answer began are text; a lone "<" is not held forever', () => {
    assert.deepEqual(split(['Hi <think>x</think>'], false).text, 'Hi <think>x</think>');
    assert.deepEqual(split(['a < b'], false).text, 'a < b');
    assert.deepEqual(split(['x </thi'], true), { reasoning: 'x </thi', text: '', kinds: ['reasoning', 'reasoning'] });
  });

  test('an unfinished thought is all thought; an empty one is none', () => {
    assert.deepEqual(split(['one two'], true), { reasoning: 'one two', text: '', kinds: ['reasoning'] });
    assert.deepEqual(split(['\n\n</think>\n\nAnswer'], true), { reasoning: '', text: 'Answer', kinds: ['text'] });
  });

  test('markers of a template; whether a prompt leaves the reply in a thought', () => {
    assert.deepEqual(thoughtMarkersOf("{{ '<think>\\n' }}{{ '</think>' }}"), THINK);
    assert.deepEqual(thoughtMarkersOf('[THINK]x[/THINK]'), { start: '[THINK]', end: '[/THINK]' });
    assert.equal(thoughtMarkersOf('<|im_start|>'), undefined);
    assert.equal(promptOpensThought('<|im_start|>assistant\n<think>\n', THINK), true);
    assert.equal(promptOpensThought('<|im_start|>assistant\n<think>\n\n</think>\n\n', THINK), false);
    assert.equal(promptOpensThought('<|im_start|>assistant\n', THINK), false);
  });

  test('only the template decides whether the reply opens in a thought: a start marker in client text does not', () => {
    // A user message with an unclosed <think>, on a template that does not open the thought.
    assert.equal(promptOpensThought('<|im_start|>user\nWhat does <think> do?<|im_end|>\n<|im_start|>assistant\n', THINK), false);
    assert.equal(promptOpensThought('<|im_start|>user\n<think><|im_end|>\n<|im_start|>assistant\n', THINK), false);
  });

  test('the budget of each effort, capped by max_thinking_tokens', () => {
    assert.equal(thinkingBudget(undefined, undefined), undefined);
    assert.equal(thinkingBudget('none', undefined), 0);
    assert.equal(thinkingBudget('low', undefined), 1024);
    assert.equal(thinkingBudget('high', 300), 300);
    assert.equal(thinkingBudget('minimal', 300), 256);
    assert.equal(thinkingBudget(undefined, 50), 50);
    // An exact budget (Anthropic's budget_tokens) wins over the effort's, still under max_thinking_tokens.
    assert.equal(thinkingBudget('low', undefined, 7), 7);
    assert.equal(thinkingBudget(undefined, 50, 70), 50);
    assert.deepEqual([1, 256, 257, 4096, 4097].map(effortCovering), ['minimal', 'minimal', 'low', 'medium', 'high']);
  });
});
