import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createSilentLogger } from '../../src/logger.js';
import { downloadModel, type DownloadProgress } from '../../src/download/model-download.js';
import { deterministicBytes, startFixtureServer, type FixtureServer } from './fixture-server.js';

const FIXTURE_BYTES = 3 * 1024 * 1024 + 123;
const logger = createSilentLogger();
// Retries wait milliseconds here, not seconds.
const fast = { logger, retryDelayMs: 10 };

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

describe('downloadModel', { timeout: 60_000 }, () => {
  let directory: string;
  let fixture: Buffer;
  let fixtureSha256: string;
  let server: FixtureServer;
  let counter = 0;
  /** A fresh destination file per test, and a fresh request log. */
  const destination = () => path.join(directory, `case-${++counter}`, 'model.bin');
  const fresh = async () => {
    await server.close();
    server = await startFixtureServer(fixture);
  };

  before(async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'switchyard-download-'));
    const fixturePath = path.join(directory, 'fixture.bin');
    await writeFile(fixturePath, deterministicBytes(FIXTURE_BYTES));
    fixture = await readFile(fixturePath);
    fixtureSha256 = createHash('sha256').update(fixture).digest('hex');
    server = await startFixtureServer(fixture);
  });
  after(async () => {
    await server.close();
    await rm(directory, { recursive: true, force: true });
  });

  test('downloads the whole file, reporting progress up to the total', async () => {
    await fresh();
    const target = destination();
    const progress: DownloadProgress[] = [];
    const result = await downloadModel({ ...fast, url: server.fileUrl, destination: target, onProgress: (p) => progress.push(p) });
    assert.deepEqual(result, { path: target, bytes: FIXTURE_BYTES, sha256: fixtureSha256, resumed: false });
    assert.ok((await readFile(target)).equals(fixture));
    assert.equal(await exists(`${target}.partial`), false);
    assert.deepEqual(server.ranges, [undefined]);
    assert.ok(progress.length > 2, `expected several progress calls, got ${progress.length}`);
    assert.ok(progress.every((p) => p.total === FIXTURE_BYTES));
    assert.ok(progress.every((p, index) => index === 0 || p.received >= progress[index - 1].received));
    assert.deepEqual(progress.at(-1), { received: FIXTURE_BYTES, total: FIXTURE_BYTES });
  });

  test('accepts a matching sha256, in any case', async () => {
    await fresh();
    const target = destination();
    const result = await downloadModel({ ...fast, url: server.fileUrl, destination: target, sha256: fixtureSha256.toUpperCase() });
    assert.equal(result.sha256, fixtureSha256);
    assert.ok((await readFile(target)).equals(fixture));
  });

  test('resumes with Range after the connection drops, hashing the whole file', async () => {
    await fresh();
    server.plan({ kind: 'cut', afterBytes: 1024 * 1024 });
    const target = destination();
    const result = await downloadModel({ ...fast, url: server.fileUrl, destination: target, sha256: fixtureSha256 });
    assert.equal(result.resumed, true);
    assert.equal(result.sha256, fixtureSha256);
    assert.ok((await readFile(target)).equals(fixture));
    assert.equal(server.ranges.length, 2);
    assert.equal(server.ranges[0], undefined);
    const resumedFrom = Number(/^bytes=(\d+)-$/.exec(server.ranges[1] ?? '')?.[1]);
    assert.ok(resumedFrom > 0 && resumedFrom <= 1024 * 1024, `second request's Range: ${server.ranges[1]}`);
    assert.equal(await exists(`${target}.partial`), false);
  });

  test('starts over cleanly when the server ignores Range and answers 200', async () => {
    await fresh();
    server.ignoreRange = true;
    server.plan({ kind: 'cut', afterBytes: 1024 * 1024 });
    const target = destination();
    const result = await downloadModel({ ...fast, url: server.fileUrl, destination: target, sha256: fixtureSha256 });
    assert.equal(result.resumed, false);
    assert.equal(result.bytes, FIXTURE_BYTES);
    assert.ok((await readFile(target)).equals(fixture));
    assert.equal(server.ranges.length, 2);
    assert.match(server.ranges[1] ?? '', /^bytes=\d+-$/);
  });

  test('a bad checksum leaves neither the destination nor the partial file', async () => {
    await fresh();
    const target = destination();
    const wrong = 'ab'.repeat(32);
    await assert.rejects(downloadModel({ ...fast, url: server.fileUrl, destination: target, sha256: wrong }), (error: Error) => {
      assert.match(error.message, /sha256 mismatch/);
      assert.ok(error.message.includes(wrong), error.message);
      assert.ok(error.message.includes(fixtureSha256), error.message);
      return true;
    });
    assert.equal(await exists(target), false);
    assert.equal(await exists(`${target}.partial`), false);
  });

  test('a bad checksum after a resume also leaves nothing behind', async () => {
    await fresh();
    server.plan({ kind: 'cut', afterBytes: 512 * 1024 });
    const target = destination();
    await assert.rejects(downloadModel({ ...fast, url: server.fileUrl, destination: target, sha256: '0'.repeat(64) }), /sha256 mismatch/);
    assert.equal(server.ranges.length, 2);
    assert.equal(await exists(target), false);
    assert.equal(await exists(`${target}.partial`), false);
  });

  test('404 fails at once, without retries', async () => {
    await fresh();
    const target = destination();
    const started = performance.now();
    await assert.rejects(downloadModel({ logger, url: `${server.fileUrl}.missing`, destination: target }), /answered 404/);
    assert.ok(performance.now() - started < 1000);
    assert.equal(server.ranges.length, 1);
    assert.equal(await exists(`${target}.partial`), false);
  });

  test('5xx is retried, and gives up after maxAttempts', async () => {
    await fresh();
    server.plan({ kind: 'status', status: 503 }, { kind: 'status', status: 502 });
    const target = destination();
    const result = await downloadModel({ ...fast, url: server.fileUrl, destination: target });
    assert.equal(result.bytes, FIXTURE_BYTES);
    assert.equal(server.ranges.length, 3);

    await fresh();
    server.plan(...Array.from({ length: 3 }, () => ({ kind: 'status' as const, status: 500 })));
    await assert.rejects(
      downloadModel({ ...fast, url: server.fileUrl, destination: destination(), maxAttempts: 3 }),
      /failed after 3 attempts: .*answered 500/,
    );
    assert.equal(server.ranges.length, 3);
  });

  test('an existing file with the right sha256 is not fetched again; a wrong one is replaced', async () => {
    await fresh();
    const target = destination();
    await downloadModel({ ...fast, url: server.fileUrl, destination: target });
    assert.equal(server.ranges.length, 1);
    const again = await downloadModel({ ...fast, url: server.fileUrl, destination: target, sha256: fixtureSha256 });
    assert.deepEqual(again, { path: target, bytes: FIXTURE_BYTES, sha256: fixtureSha256, resumed: false });
    assert.equal(server.ranges.length, 1);

    await writeFile(target, 'not the model');
    await downloadModel({ ...fast, url: server.fileUrl, destination: target, sha256: fixtureSha256 });
    assert.equal(server.ranges.length, 2);
    assert.ok((await readFile(target)).equals(fixture));
  });

  test('abort keeps the partial file, and the next call resumes it', async () => {
    await fresh();
    server.plan({ kind: 'stall', afterBytes: 768 * 1024 });
    const target = destination();
    const controller = new AbortController();
    const download = downloadModel({
      ...fast,
      url: server.fileUrl,
      destination: target,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.received >= 256 * 1024) controller.abort();
      },
    });
    await assert.rejects(download, { name: 'AbortError' });
    const kept = (await stat(`${target}.partial`)).size;
    assert.ok(kept >= 256 * 1024, `partial file holds ${kept} bytes`);
    assert.equal(await exists(target), false);

    const result = await downloadModel({ ...fast, url: server.fileUrl, destination: target, sha256: fixtureSha256 });
    assert.equal(result.resumed, true);
    assert.equal(server.ranges.at(-1), `bytes=${kept}-`);
    assert.ok((await readFile(target)).equals(fixture));
  });

  test('a partial file that is already complete is verified after a 416', async () => {
    await fresh();
    const target = destination();
    await downloadModel({ ...fast, url: server.fileUrl, destination: target });
    await copyFile(target, `${target}.partial`);
    await rm(target);
    const result = await downloadModel({ ...fast, url: server.fileUrl, destination: target, sha256: fixtureSha256 });
    assert.deepEqual(result, { path: target, bytes: FIXTURE_BYTES, sha256: fixtureSha256, resumed: true });
    assert.equal(server.ranges.at(-1), `bytes=${FIXTURE_BYTES}-`);
    assert.equal(await exists(`${target}.partial`), false);
  });

  test('a partial file longer than the remote one is discarded after a 416', async () => {
    await fresh();
    const target = destination();
    await downloadModel({ ...fast, url: server.fileUrl, destination: target });
    await writeFile(`${target}.partial`, Buffer.concat([fixture, Buffer.from('extra')]));
    await rm(target);
    const result = await downloadModel({ ...fast, url: server.fileUrl, destination: target, sha256: fixtureSha256 });
    assert.equal(result.resumed, false);
    assert.deepEqual(server.ranges.slice(1), [`bytes=${FIXTURE_BYTES + 5}-`, undefined]);
    assert.ok((await readFile(target)).equals(fixture));
  });

  test('names the file after the URL when the destination is a directory', async () => {
    await fresh();
    const folder = path.join(directory, `case-${++counter}`) + path.sep;
    const result = await downloadModel({ ...fast, url: `${server.fileUrl}?download=true`, destination: folder });
    assert.equal(result.path, path.join(folder, 'fixture.bin'));
  });

  test('refuses URLs that are not http(s) and malformed digests', async () => {
    await assert.rejects(downloadModel({ logger, url: 'file:///etc/hostname', destination: destination() }), /only http: and https:/);
    await assert.rejects(downloadModel({ logger, url: server.fileUrl, destination: destination(), sha256: 'abc' }), /64 hexadecimal digits/);
  });
});
