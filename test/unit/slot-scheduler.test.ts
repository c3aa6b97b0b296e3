// The slot scheduler's per-request share and run time limit: a request is admitted once whatever
// its number of choices, a request with many choices leaves slots to others, and a run that
// outlives max_generation_seconds is stopped with a 504.
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { test } from 'node:test';
import { toGatewayError } from '../../src/api/error-mapping.js';
import { GenerationTimeoutError } from '../../src/scheduler/admission-errors.js';
import { SlotScheduler } from '../../src/scheduler/slot-scheduler.js';

function scheduler(options: { maxSlotsPerRequest?: number; maxRunMs?: number } = {}): SlotScheduler {
  return new SlotScheduler({ model: 'm', slots: 4, maxQueue: 64, queueTimeoutMs: 10_000, ...options });
}

/** A run that holds its slot until `finish` is called. */
function heldRun() {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { work: () => done, finish };
}

test('a request with 16 choices holds at most its share; another request gets a slot at once', async () => {
  const slots = scheduler({ maxSlotsPerRequest: 2 });
  const signal = new AbortController().signal;
  const request = await slots.admit(signal);
  const choices = Array.from({ length: 16 }, () => heldRun());
  const running = choices.map((choice) => request.run(signal, choice.work));
  await nextTurn();
  assert.equal(slots.activeCount, 2, 'the request holds two of the four slots');
  assert.equal(slots.queueDepth, 0, 'its other choices wait outside the model queue');

  let otherAdmitted = false;
  const other = slots.run(signal, async () => {
    otherAdmitted = true;
  });
  await nextTurn();
  assert.ok(otherAdmitted, 'another request did not wait for the 16 choices');
  await other;

  // Each finished choice hands its slot to the next: all 16 complete, two at a time.
  for (const choice of choices) {
    choice.finish();
    await nextTurn();
    assert.ok(slots.activeCount <= 2);
  }
  await Promise.all(running);
  slots.end(request);
  assert.equal(slots.activeCount, 0);
});

test('without a share a request may take every slot (the cap is what keeps one free)', async () => {
  const slots = scheduler();
  const signal = new AbortController().signal;
  const request = await slots.admit(signal);
  const choices = Array.from({ length: 8 }, () => heldRun());
  const running = choices.map((choice) => request.run(signal, choice.work));
  await nextTurn();
  assert.equal(slots.activeCount, 4);
  for (const choice of choices) choice.finish();
  await Promise.all(running);
  slots.end(request);
  assert.equal(slots.activeCount, 0);
});

test('a choice still waiting for its share leaves when the client does', async () => {
  const slots = scheduler({ maxSlotsPerRequest: 1 });
  const client = new AbortController();
  const request = await slots.admit(client.signal);
  const first = heldRun();
  const running = request.run(client.signal, first.work);
  const waiting = request.run(client.signal, async () => assert.fail('must not run'));
  await nextTurn();
  client.abort();
  await assert.rejects(waiting, { name: 'AbortError' });
  first.finish();
  await running;
  slots.end(request);
  assert.equal(slots.activeCount, 0);
});

test('a run past maxRunMs sees its signal fire and fails with a 504 generation_timeout', async () => {
  const slots = scheduler({ maxRunMs: 50 });
  const started = performance.now();
  const run = slots.run(new AbortController().signal, (signal) => new Promise<string>((resolve) => signal.addEventListener('abort', () => resolve('partial'))));
  await assert.rejects(run, (error: unknown) => {
    assert.ok(error instanceof GenerationTimeoutError);
    const wire = toGatewayError(error);
    assert.equal(wire.status, 504);
    assert.equal(wire.code, 'generation_timeout');
    assert.equal(wire.headers['x-should-retry'], 'false');
    assert.match(wire.message, /max_generation_seconds/);
    return true;
  });
  assert.ok(performance.now() - started < 2_000);
  assert.equal(slots.activeCount, 0, 'the slot is free again');
  // A client that left is not a timeout.
  const client = new AbortController();
  const left = slots.run(client.signal, (signal) => new Promise<string>((resolve) => signal.addEventListener('abort', () => resolve('partial'))));
  await nextTurn();
  client.abort();
  assert.equal(await left, 'partial');
});

test('a request is admitted once: n choices on one slot with max_queue = 1 all run, one after another', async () => {
  const slots = new SlotScheduler({ model: 'm', slots: 1, maxQueue: 1, queueTimeoutMs: 10_000 });
  const signal = new AbortController().signal;
  const request = await slots.admit(signal);
  const order: number[] = [];
  await Promise.all([0, 1, 2, 3].map((index) => request.run(signal, async () => void order.push(index))));
  slots.end(request);
  assert.deepEqual(order, [0, 1, 2, 3]);
  assert.equal(slots.activeCount, 0);
});

test('a request beyond one slot gives its extra slots to requests that queue, and keeps the one it was admitted with', async () => {
  const slots = new SlotScheduler({ model: 'm', slots: 2, maxQueue: 4, queueTimeoutMs: 10_000 });
  const signal = new AbortController().signal;
  const request = await slots.admit(signal);
  const choices = Array.from({ length: 4 }, () => heldRun());
  const running = choices.map((choice) => request.run(signal, choice.work));
  await nextTurn();
  assert.equal(request.heldSlots, 2);
  let otherAdmitted = false;
  const other = slots.run(signal, async () => {
    otherAdmitted = true;
  });
  await nextTurn();
  assert.equal(slots.queueDepth, 1);
  choices[0].finish();
  await other;
  assert.ok(otherAdmitted, 'the queued request got the slot the first choice gave back');
  for (const choice of choices) choice.finish();
  await Promise.all(running);
  slots.end(request);
  assert.equal(slots.activeCount, 0);
});
