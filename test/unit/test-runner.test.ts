// `npm test` runs the test files and nothing else: Node 20's `node --test FOLDER` takes every .js
// under a folder named test as a test file, so helpers and fixtures (dist/test/helpers/,
// dist/test/fixtures/) ran as tests, their side effects included.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { testFiles } from '../run-tests.js';

const testScript = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts.test;

describe('the test command', () => {
  test('does not hand a folder to node --test', () => {
    assert.doesNotMatch(testScript, /node --test\b[^&]*\sdist\/test\/?(\s|$)/, testScript);
    assert.match(testScript, /node dist\/test\/run-tests\.js/);
  });

  test('runs every *.test.js under dist/test and no helper or fixture module', () => {
    const files = testFiles('dist/test');
    assert.ok(files.includes(path.join('dist', 'test', 'unit', 'test-runner.test.js')), 'this file is among them');
    assert.ok(files.length > 20, `${files.length} files`);
    for (const file of files) assert.match(path.basename(file), /\.test\.js$/);
    // The modules that must not run as tests are there (so the check means something), and left out.
    for (const module of ['dist/test/helpers/paths.js', 'dist/test/fixtures/plugins/echo-plugin.js', 'dist/test/run-tests.js']) {
      assert.ok(existsSync(module), `${module} exists`);
      assert.equal(files.includes(module), false, `${module} would run as a test`);
    }
    assert.deepEqual(testFiles('dist/test/helpers'), []);
    assert.deepEqual(testFiles('dist/test/fixtures'), []);
  });
});
