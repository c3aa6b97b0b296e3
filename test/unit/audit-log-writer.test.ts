import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { RotatingFileWriter } from '../../plugins/audit-log/rotating-file-writer.js';
import { redact } from '../../plugins/audit-log/audit-record.js';

const logger = pino({ level: 'silent' });

describe('audit-log file writer', () => {
  test('writes lines in order without the caller waiting, and rotates by size', async () => {
    const directory = await mkdtemp(path.join(os.tmpdir(), 'switchyard-rotate-'));
    const file = path.join(directory, 'audit.jsonl');
    const writer = new RotatingFileWriter(file, { maxBytes: 300, maxFiles: 2, maxBufferedBytes: 1 << 20, logger });
    const started = performance.now();
    for (let index = 0; index < 40; index++) writer.write(JSON.stringify({ index, padding: 'x'.repeat(20) }));
    // write() only queued: nothing may have touched the disk yet.
    assert.ok(performance.now() - started < 50);
    await writer.close();
    const names = (await readdir(directory)).sort();
    assert.deepEqual(names, ['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2']);
    for (const name of names) assert.ok((await stat(path.join(directory, name))).size <= 300, `${name} is within max_bytes`);
    // The newest lines are in the live file, the ones before in .1, then .2; older ones were dropped.
    const live = (await readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { index: number }).index);
    const previous = (await readFile(`${file}.1`, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { index: number }).index);
    assert.equal(live.at(-1), 39);
    assert.equal(previous.at(-1), live[0] - 1);
  });

  test('a line that would overflow the buffer is dropped, not queued', async () => {
    const directory = await mkdtemp(path.join(os.tmpdir(), 'switchyard-drop-'));
    const file = path.join(directory, 'audit.jsonl');
    const writer = new RotatingFileWriter(file, { maxBytes: 1 << 20, maxFiles: 1, maxBufferedBytes: 100, logger });
    for (let index = 0; index < 10; index++) writer.write('y'.repeat(30));
    await writer.close();
    assert.equal((await readFile(file, 'utf8')).trim().split('\n').length, 3);
  });

  test('redaction replaces every match in nested values', () => {
    assert.deepEqual(redact([{ content: 'a sk-123456 b sk-654321' }], [/sk-\d+/g]), [{ content: 'a [REDACTED] b [REDACTED]' }]);
  });
});
