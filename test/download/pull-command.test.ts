import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureModelFile } from '../../src/download/ensure-model-file.js';
import { pullCommand } from '../../src/download/pull-command.js';
import { createSilentLogger } from '../../src/logger.js';
import { deterministicBytes, startFixtureServer, type FixtureServer } from './fixture-server.js';

const logger = createSilentLogger();

function capture() {
  const text = { stdout: '', stderr: '' };
  const output = {
    stdout: { write: (chunk: string) => (text.stdout += chunk) },
    stderr: { write: (chunk: string) => (text.stderr += chunk) },
  };
  return { text, output };
}

describe('pull command and startup download', { timeout: 30_000 }, () => {
  const fixture = deterministicBytes(2 * 1024 * 1024);
  const fixtureSha256 = createHash('sha256').update(fixture).digest('hex');
  let directory: string;
  let server: FixtureServer;

  before(async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'switchyard-pull-'));
    server = await startFixtureServer(fixture, 'tiny-model.gguf');
  });
  after(async () => {
    await server.close();
    await rm(directory, { recursive: true, force: true });
  });

  test('pull downloads into --to, creating it, and prints the path', async () => {
    const to = path.join(directory, 'pulled', 'models');
    const { text, output } = capture();
    const code = await pullCommand(server.fileUrl, { to, sha256: fixtureSha256 }, logger, output);
    assert.equal(code, 0, text.stderr);
    const file = path.join(to, 'tiny-model.gguf');
    assert.equal(text.stdout, `${file}\n`);
    assert.equal(text.stderr, '');
    assert.ok((await readFile(file)).equals(fixture));
    assert.deepEqual(await readdir(to), ['tiny-model.gguf']);
  });

  test('pull exits 1 with a message on a 404 and on a wrong checksum', async () => {
    const to = path.join(directory, 'failures');
    const missing = capture();
    assert.equal(await pullCommand(`${server.fileUrl}.nope`, { to }, logger, missing.output), 1);
    assert.match(missing.text.stderr, /^pull failed: GET .* answered 404/);
    assert.equal(missing.text.stdout, '');

    const wrong = capture();
    assert.equal(await pullCommand(server.fileUrl, { to, sha256: 'f'.repeat(64) }, logger, wrong.output), 1);
    assert.match(wrong.text.stderr, /^pull failed: sha256 mismatch .*expected f{64}, got [0-9a-f]{64}/);
    assert.deepEqual(await readdir(to), []);
  });

  test('ensureModelFile downloads a missing path once, and leaves an existing one alone', async () => {
    const file = path.join(directory, 'startup', 'chat.gguf');
    const before = server.ranges.length;
    await Promise.all([
      ensureModelFile({ path: file, source: server.fileUrl, sha256: fixtureSha256, logger }),
      ensureModelFile({ path: file, source: server.fileUrl, sha256: fixtureSha256, logger }),
    ]);
    assert.ok((await readFile(file)).equals(fixture));
    assert.equal(server.ranges.length, before + 1, 'two callers share one download');
    await ensureModelFile({ path: file, source: server.fileUrl, sha256: fixtureSha256, logger });
    assert.equal(server.ranges.length, before + 1);
    assert.equal((await stat(file)).size, fixture.length);
  });

  test('ensureModelFile refuses an archive source', async () => {
    await assert.rejects(
      ensureModelFile({ path: path.join(directory, 'onnx-model'), source: 'https://example.com/model.tar.gz', logger }),
      /archive; only a single model file/,
    );
  });
});
