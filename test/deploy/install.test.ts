// A plain `npm ci` needs only the npm registry, in a way npm will keep supporting: onnxruntime-node's
// install script (which on Linux x64 downloads CUDA libraries from NuGet) is kept from running by
// package.json's allowScripts policy, and by ONNXRUNTIME_NODE_INSTALL=skip where CI installs (for
// npm versions without that policy). A setting the script reads from an unknown .npmrc key made
// every npm command warn that it "will stop working in the next major version of npm".
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// dist/test/deploy/ -> the repository root.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const packageJson = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };

describe('installing', () => {
  test('npm reads no unknown project config (no warning on every npm command)', async () => {
    const { stderr } = await promisify(execFile)('npm', ['pkg', 'get', 'name'], { cwd: root, env: { ...process.env, npm_config_loglevel: 'warn' } });
    assert.doesNotMatch(stderr, /Unknown (project|user|env) config/, stderr);
  });

  test('only known dependencies have install scripts (none downloads from outside the npm registry once allowScripts applies)', () => {
    // node-llama-cpp: test-loads its npm-shipped binaries or compiles the bundled llama.cpp source;
    // protobufjs: a version notice; onnxruntime-node: denied below; better-sqlite3: compiles its
    // addon (prebuild-install's download is off, see below). A new one needs a look: e.g.
    // @xenova/transformers brings sharp 0.32, whose install script downloads libvips from GitHub.
    const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages)
      .filter(([location, entry]) => location !== '' && entry.hasInstallScript)
      .map(([location]) => location.replace(/^.*node_modules\//, ''));
    assert.deepEqual(withScripts.sort(), ['better-sqlite3', 'node-llama-cpp', 'onnxruntime-node', 'protobufjs']);
  });

  test("better-sqlite3's install compiles from source: prebuild-install's GitHub download is off", () => {
    const require = createRequire(path.join(root, 'node_modules', 'better-sqlite3', 'package.json'));
    const prebuildConfig = require('prebuild-install/rc.js') as (pkg: { name: string }) => { buildFromSource: boolean };
    const cwd = process.cwd();
    try {
      // The install script runs in the package's folder; prebuild-install reads .prebuild-installrc upwards from there.
      process.chdir(path.join(root, 'node_modules', 'better-sqlite3'));
      assert.equal(prebuildConfig({ name: 'better-sqlite3' }).buildFromSource, true);
    } finally {
      process.chdir(cwd);
    }
  });

  test("onnxruntime-node's install script is denied by the allowScripts policy", () => {
    assert.equal(packageJson.allowScripts?.['onnxruntime-node'], false);
  });

  test('CI installs with ONNXRUNTIME_NODE_INSTALL=skip, which the installed onnxruntime-node reads as "skip"', () => {
    const ci = readFileSync(path.join(root, '.ci', 'run'), 'utf8');
    const exported = ci.split('\n').findIndex((line) => /^export ONNXRUNTIME_NODE_INSTALL=skip\b/.test(line));
    const install = ci.split('\n').findIndex((line) => /^npm ci\b/.test(line));
    assert.ok(exported >= 0 && exported < install, 'exported before npm ci');
    const require = createRequire(path.join(root, 'package.json'));
    const { parseInstallFlag } = require('onnxruntime-node/script/install-utils.js') as { parseInstallFlag(): unknown };
    const saved = process.env.ONNXRUNTIME_NODE_INSTALL;
    try {
      process.env.ONNXRUNTIME_NODE_INSTALL = 'skip';
      assert.equal(parseInstallFlag(), false, 'false: the script exits before downloading');
    } finally {
      if (saved === undefined) delete process.env.ONNXRUNTIME_NODE_INSTALL;
      else process.env.ONNXRUNTIME_NODE_INSTALL = saved;
    }
  });
});
