// The rounds that line up generating sequences: nobody asks for its next token before every
// member has its own, a lone sequence never waits, and leaving never strands the others.
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { test } from 'node:test';
import { DecodeRounds } from '../../src/backends/llama/decode-rounds.js';

/** Whether `promise` has settled after the event loop has turned `turns` times. */
async function settledWithin(promise: Promise<void>, turns: number): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  for (let turn = 0; turn < turns; turn++) await nextTurn();
  return settled;
}

test('a sequence alone, or not yet a member, does not wait', () => {
  const rounds = new DecodeRounds();
  const alone = {};
  assert.equal(rounds.arrive(alone), undefined, 'not a member yet');
  rounds.join(alone);
  assert.equal(rounds.arrive(alone), undefined, 'the only member');
});

test('members are released together, one turn after the last one arrives', async () => {
  const rounds = new DecodeRounds();
  const [first, second, third] = [{}, {}, {}];
  for (const member of [first, second, third]) rounds.join(member);
  const firstDone = rounds.arrive(first)!;
  const secondDone = rounds.arrive(second)!;
  assert.equal(await settledWithin(firstDone, 3), false, 'the third has not arrived');
  const thirdDone = rounds.arrive(third)!;
  let releasedAt = 'never';
  void Promise.all([firstDone, secondDone, thirdDone]).then(() => (releasedAt = 'later'));
  await Promise.resolve();
  assert.equal(releasedAt, 'never', 'not in the same turn');
  await Promise.all([firstDone, secondDone, thirdDone]);
  // The next round waits again.
  assert.equal(await settledWithin(rounds.arrive(first)!, 3), false);
});

test('a member that leaves releases the others waiting for it', async () => {
  const rounds = new DecodeRounds();
  const [stays, leaves] = [{}, {}];
  rounds.join(stays);
  rounds.join(leaves);
  const waiting = rounds.arrive(stays)!;
  assert.equal(await settledWithin(waiting, 2), false);
  rounds.leave(leaves);
  assert.equal(await settledWithin(waiting, 2), true);
  assert.equal(rounds.size, 1);
  assert.equal(rounds.arrive(stays), undefined, 'alone again');
});

test('a member that leaves while it waits is let go at once', async () => {
  const rounds = new DecodeRounds();
  const [early, late] = [{}, {}];
  rounds.join(early);
  rounds.join(late);
  const waiting = rounds.arrive(early)!;
  rounds.leave(early);
  assert.equal(await settledWithin(waiting, 1), true);
  rounds.leave(late);
  assert.equal(rounds.size, 0);
});
