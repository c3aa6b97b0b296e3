import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { progressReporter } from '../../src/download/download-progress.js';
import { createSilentLogger } from '../../src/logger.js';

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

describe('progressReporter', () => {
  test('on a terminal, redraws one line with percent, MB and MB/s, and ends it on finish', () => {
    const writes: string[] = [];
    let clock = 0;
    const reporter = progressReporter(createSilentLogger(), 'model.gguf', { stream: { isTTY: true, write: (text) => writes.push(text) }, now: () => clock });
    reporter.report({ received: 0, total: 10_000_000 });
    clock = 1000;
    reporter.report({ received: 5_000_000, total: 10_000_000 });
    clock = 1050; // within the redraw interval: skipped
    reporter.report({ received: 6_000_000, total: 10_000_000 });
    clock = 1100; // complete: always drawn
    reporter.report({ received: 10_000_000, total: 10_000_000 });
    reporter.finish();
    assert.deepEqual(writes, [
      '\rmodel.gguf   0% 0.0/10.0 MB 0.0 MB/s\x1b[K',
      '\rmodel.gguf  50% 5.0/10.0 MB 5.0 MB/s\x1b[K',
      '\rmodel.gguf 100% 10.0/10.0 MB 9.1 MB/s\x1b[K',
      '\n',
    ]);
  });

  test('otherwise, logs a line per tenth of the file', () => {
    const { logger, lines } = capturingLogger();
    let clock = 0;
    const reporter = progressReporter(logger, 'model.gguf', { stream: { isTTY: false, write: () => assert.fail('no terminal output') }, now: () => clock });
    for (let percent = 0; percent <= 100; percent++) {
      clock = percent * 10;
      reporter.report({ received: percent * 1_000_000, total: 100_000_000 });
    }
    reporter.finish();
    assert.deepEqual(
      lines.map((line) => line.percent),
      [10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
    );
    assert.equal(lines[0].msg, 'download progress');
    assert.equal(lines[0].file, 'model.gguf');
  });

  test('otherwise, logs at most every 5 s when the length is unknown or progress is slow', () => {
    const { logger, lines } = capturingLogger();
    let clock = 0;
    const reporter = progressReporter(logger, 'model.gguf', { stream: { isTTY: false, write: () => undefined }, now: () => clock });
    for (let second = 0; second <= 12; second++) {
      clock = second * 1000;
      reporter.report({ received: second * 1_000_000 });
    }
    assert.deepEqual(
      lines.map((line) => line.received_mb),
      [5, 10],
    );
    assert.equal(lines[0].mb_per_second, 1);
  });
});
