#!/usr/bin/env node
// Install step (npm's postinstall): compiles llama.cpp for this machine's CPU from the source that
// node-llama-cpp ships (its git bundle: nothing is downloaded), with OpenMP. node-llama-cpp prefers
// such a local build and falls back to its prebuilt binaries when there is none, so a failure here
// costs nothing but the time.
//
// Why: on a 2-core AVX2 machine, 58M-parameter model, 2 threads, paired runs, the local build
// decoded four streams at 320 tokens/s against 290 for the prebuilt binaries (one stream: equal).
// Its price: about 5 minutes of compiling on 2 cores at every clean install.
//
// Skipped when SWITCHYARD_LLAMA_BUILD=skip, when cmake or a C++ compiler is missing, and when a
// local build is already there (SWITCHYARD_LLAMA_BUILD=force builds again). CUDA, Vulkan and Metal
// keep node-llama-cpp's prebuilt binaries: this build is for the CPU only.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BUILD_TIMEOUT_MS = 30 * 60_000;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const packageFolder = path.join(root, 'node_modules', 'node-llama-cpp');
const cli = path.join(packageFolder, 'dist', 'cli', 'cli.js');
const localBuilds = path.join(packageFolder, 'llama', 'localBuilds');
const logFile = path.join(root, 'node_modules', '.cache', 'switchyard', 'llama-cpp-build.log');
const mode = process.env.SWITCHYARD_LLAMA_BUILD ?? 'auto';

function say(message) {
  process.stdout.write(`switchyard: ${message}\n`);
}

function runs(command) {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
}

function hasLocalBuild() {
  if (!existsSync(localBuilds)) return false;
  return readdirSync(localBuilds, { recursive: true }).some((entry) => path.basename(String(entry)) === 'llama-addon.node');
}

function main() {
  if (mode === 'skip') return say('llama.cpp: SWITCHYARD_LLAMA_BUILD=skip, using the prebuilt binaries');
  if (!existsSync(cli)) return say('llama.cpp: node-llama-cpp is not installed, nothing to build');
  if (mode !== 'force' && hasLocalBuild()) return say('llama.cpp: a local build is already there (SWITCHYARD_LLAMA_BUILD=force builds again)');
  if (!runs('cmake') || !(runs('c++') || runs('g++') || runs('clang++'))) {
    return say('llama.cpp: cmake or a C++ compiler is missing, using the prebuilt binaries');
  }
  say(
    `llama.cpp: compiling for this CPU (about 5 minutes on 2 cores; log: ${path.relative(root, logFile)}; SWITCHYARD_LLAMA_BUILD=skip uses the prebuilt binaries instead)`,
  );
  mkdirSync(path.dirname(logFile), { recursive: true });
  const log = openSync(logFile, 'w');
  const started = Date.now();
  const result = spawnSync(process.execPath, [cli, 'source', 'download', '--gpu', 'false', '--noUsageExample'], {
    cwd: root,
    stdio: ['ignore', log, log],
    timeout: BUILD_TIMEOUT_MS,
  });
  const seconds = Math.round((Date.now() - started) / 1000);
  if (result.status === 0 && hasLocalBuild()) return say(`llama.cpp: built in ${seconds} s`);
  const reason = result.error?.message ?? (result.signal ? `stopped by ${result.signal}` : `exit code ${result.status}`);
  const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-5).join('\n  ');
  say(`llama.cpp: the build failed after ${seconds} s (${reason}); the prebuilt binaries will be used.\n  ${tail}`);
}

main();
