// The per-token limit (max_token_seconds): a step is timed from the ask to the token, the first
// token (the prompt's evaluation) is not, and a slow step is refused before the next ask.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenStepTimer } from '../../src/backends/llama/token-step-timer.js';
import { TokenTimeoutError } from '../../src/engine/errors.js';

function clockedTimer(limitMs: number): { timer: TokenStepTimer; advance: (ms: number) => void } {
  let now = 0;
  return { timer: new TokenStepTimer(limitMs, () => now), advance: (ms) => (now += ms) };
}

test('the first token, which evaluates the prompt, is not timed', () => {
  const { timer, advance } = clockedTimer(100);
  advance(5_000);
  timer.received();
  timer.assertLastStepWithinLimit();
});

test('a step slower than the limit throws a TokenTimeoutError naming the limit and the step', () => {
  const { timer, advance } = clockedTimer(200);
  timer.received();
  timer.asking();
  advance(150);
  timer.received();
  timer.assertLastStepWithinLimit();
  timer.asking();
  advance(700);
  timer.received();
  assert.throws(
    () => timer.assertLastStepWithinLimit(),
    (error: unknown) =>
      error instanceof TokenTimeoutError &&
      error.limitSeconds === 0.2 &&
      error.tokenSeconds === 0.7 &&
      /0\.7 s .* limit of 0\.2 s per token \(max_token_seconds\)/.test(error.message),
  );
});

test('time spent waiting before asking (other sequences, a paused reader) is not part of a step', () => {
  const { timer, advance } = clockedTimer(200);
  timer.received();
  advance(10_000);
  timer.asking();
  advance(50);
  timer.received();
  timer.assertLastStepWithinLimit();
});
