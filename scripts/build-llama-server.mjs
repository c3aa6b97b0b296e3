#!/usr/bin/env node
// Install step (npm's postinstall, after build-llama-cpp.mjs): compiles llama.cpp's own server,
// `llama-server`, from the source node-llama-cpp ships (the same commit as the in-process engine;
// its git bundle: nothing is downloaded), for this machine's CPU, into
// node_modules/.cache/switchyard/llama-server/bin/llama-server, where `backend = "llama-server"`
// models find it. A failure costs nothing but the time: the in-process engine does not need it,
// and a binary can be named instead ([engines.llama_server] binary, SWITCHYARD_LLAMA_SERVER).
//
// Its price: a long compile at every clean install (one static binary; about 40 minutes on a 2-core machine
// busy with other work, a fraction of that on more or idle cores).
// Skipped when SWITCHYARD_LLAMA_SERVER_BUILD=skip, when cmake or a C++ compiler is missing, and
// when the binary is already there (SWITCHYARD_LLAMA_SERVER_BUILD=force builds it again).
// SWITCHYARD_LLAMA_SERVER_BUILD=dry-run prints what would run and builds nothing.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BUILD_TIMEOUT_MS = 60 * 60_000;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const packageFolder = path.join(root, 'node_modules', 'node-llama-cpp');
const cli = path.join(packageFolder, 'dist', 'cli', 'cli.js');
const source = path.join(packageFolder, 'llama', 'llama.cpp');
const cache = path.join(root, 'node_modules', '.cache', 'switchyard');
const buildFolder = path.join(cache, 'llama-server', 'build');
// The same path as INSTALLED_BINARY in src/backends/llama-server/binary.ts.
const binary = path.join(cache, 'llama-server', 'bin', 'llama-server');
const logFile = path.join(cache, 'llama-server-build.log');
const mode = process.env.SWITCHYARD_LLAMA_SERVER_BUILD ?? 'auto';

function say(message) {
  process.stdout.write(`switchyard: ${message}\n`);
}

function runs(command) {
  return spawnSync(command, ['--version'], { stdio: 'ignore' }).status === 0;
}

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The steps, each a command line. Static (BUILD_SHARED_LIBS=OFF): one file that runs wherever it
 * is copied. GGML_NATIVE: for this CPU, like the in-process engine's local build. No network at
 * any step: no curl (the gateway hands it local files only), no web UI download.
 */
function steps(cores) {
  return [
    [
      'cmake',
      '-S',
      source,
      '-B',
      buildFolder,
      '-DCMAKE_BUILD_TYPE=Release',
      '-DLLAMA_CURL=OFF',
      '-DLLAMA_BUILD_TESTS=OFF',
      '-DLLAMA_BUILD_EXAMPLES=OFF',
      '-DLLAMA_BUILD_SERVER=ON',
      '-DLLAMA_USE_PREBUILT_UI=OFF',
      // It reads local model files only: without OpenSSL it needs no libssl where it runs (the
      // container smoke test ships this binary in an image that has none).
      '-DLLAMA_OPENSSL=OFF',
      '-DGGML_NATIVE=ON',
      '-DBUILD_SHARED_LIBS=OFF',
    ],
    ['cmake', '--build', buildFolder, '--config', 'Release', '--target', 'llama-server', '-j', String(cores)],
  ];
}

/** node-llama-cpp unpacks its bundled source only when it builds; without that build, unpack it here. */
function ensureSource(log) {
  if (existsSync(path.join(source, 'CMakeLists.txt'))) return true;
  const result = spawnSync(process.execPath, [cli, 'source', 'download', '--skipBuild', '--noUsageExample'], {
    cwd: root,
    stdio: ['ignore', log, log],
    timeout: BUILD_TIMEOUT_MS,
  });
  return result.status === 0 && existsSync(path.join(source, 'CMakeLists.txt'));
}

function failed(started, reason) {
  const seconds = Math.round((Date.now() - started) / 1000);
  const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-5).join('\n  ') : '';
  say(
    `llama-server: the build failed after ${seconds} s (${reason}); the in-process engine works without it, ` +
      `and [engines.llama_server] binary or SWITCHYARD_LLAMA_SERVER can name another.\n  ${tail}`,
  );
}

function main() {
  if (mode === 'skip') return say('llama-server: SWITCHYARD_LLAMA_SERVER_BUILD=skip, not built (backend = "llama-server" then needs a binary named)');
  if (!existsSync(cli)) return say('llama-server: node-llama-cpp is not installed, nothing to build');
  if (mode !== 'force' && mode !== 'dry-run' && isExecutable(binary)) {
    return say(`llama-server: already built (${path.relative(root, binary)}; SWITCHYARD_LLAMA_SERVER_BUILD=force builds it again)`);
  }
  if (!runs('cmake') || !(runs('c++') || runs('g++') || runs('clang++'))) {
    return say('llama-server: cmake or a C++ compiler is missing, not built (the in-process engine works without it)');
  }
  const cores = Math.max(1, os.availableParallelism());
  if (mode === 'dry-run') {
    for (const step of steps(cores)) say(`llama-server (dry run): ${step.join(' ')}`);
    return say(`llama-server (dry run): then ${path.relative(root, path.join(buildFolder, 'bin', 'llama-server'))} → ${path.relative(root, binary)}`);
  }
  say(
    `llama-server: compiling from the llama.cpp source of node-llama-cpp (about 8 minutes on 2 cores; log: ${path.relative(root, logFile)}; ` +
      'SWITCHYARD_LLAMA_SERVER_BUILD=skip skips it)',
  );
  mkdirSync(cache, { recursive: true });
  const log = openSync(logFile, 'w');
  const started = Date.now();
  if (!ensureSource(log)) return failed(started, 'the llama.cpp source could not be unpacked');
  for (const step of steps(cores)) {
    writeSync(log, `\n$ ${step.join(' ')}\n`);
    const result = spawnSync(step[0], step.slice(1), { cwd: root, stdio: ['ignore', log, log], timeout: BUILD_TIMEOUT_MS });
    if (result.status !== 0) return failed(started, result.error?.message ?? (result.signal ? `stopped by ${result.signal}` : `exit code ${result.status}`));
  }
  const built = path.join(buildFolder, 'bin', 'llama-server');
  if (!isExecutable(built)) return failed(started, `the build wrote no ${path.relative(root, built)}`);
  // Copied, then renamed into place: a reader never sees half a binary.
  mkdirSync(path.dirname(binary), { recursive: true });
  copyFileSync(built, `${binary}.partial`);
  renameSync(`${binary}.partial`, binary);
  // The objects are only needed to build again, and take hundreds of megabytes.
  rmSync(buildFolder, { recursive: true, force: true });
  say(`llama-server: built in ${Math.round((Date.now() - started) / 1000)} s (${path.relative(root, binary)})`);
}

main();
