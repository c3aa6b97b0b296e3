// The Dockerfile and what it copies, checked without building it (deploy/smoke.sh builds and runs
// it, and runs the llama-server it ships): the build arguments and runtime settings the deployment
// files rely on, the llama-server builder stage, the image's default config, the build context, and
// the HEALTHCHECK script against a real HTTP server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from '../../src/backends/llama-server/loopback-port.js';
import { parseConfig } from '../../src/config/load-config.js';
import { defaultResponseStorePath } from '../../src/config/response-store-settings.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function readDockerfile(file: string): Instruction[] {
  const logical: string[] = [];
  let current = '';
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim() !== '') logical.push(current.trim());
    current = '';
  }
  return logical.map((line) => {
    const [keyword, ...rest] = line.split(/\s+/);
    return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
  });
}

/** The patterns of .dockerignore, in order ("!" re-includes). */
function contextIncludes(relative: string): boolean {
  const patterns = readFileSync(path.join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  let included = true;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const body = (negated ? pattern.slice(1) : pattern).replace(/\/$/, '');
    const hit = body === '*' || relative === body || relative.startsWith(`${body}/`);
    if (hit) included = negated;
  }
  return included;
}

describe('Dockerfile', () => {
  const instructions = readDockerfile(path.join(root, 'Dockerfile'));
  const of = (keyword: string) => instructions.filter((instruction) => instruction.keyword === keyword);
  const argDefault = (name: string) =>
    of('ARG')
      .map((arg) => arg.args.match(new RegExp(`^${name}=(.*)$`))?.[1])
      .find((value) => value !== undefined);
  const stages = of('FROM');
  const runtimeStart = instructions.lastIndexOf(stages[stages.length - 1]);
  const runtime = instructions.slice(runtimeStart);

  test('builds on a CUDA 12 runtime base and Node.js 22, both overridable', () => {
    assert.match(argDefault('BASE_IMAGE') ?? '', /^nvidia\/cuda:12\.[\d.]+-cudnn-runtime-/);
    assert.match(argDefault('NODE_IMAGE') ?? '', /^node:22[-.]/);
    assert.equal(argDefault('ONNXRUNTIME_NODE_INSTALL'), 'cuda12');
    assert.match(stages[stages.length - 1].args, /^\$\{BASE_IMAGE\}/, 'the last stage (the image) is the base image');
    assert.ok(stages.length >= 3, 'multi-stage');
  });

  test('runs as a non-root user behind tini, exposes 8080 and checks /health', () => {
    const user = runtime.find((instruction) => instruction.keyword === 'USER')?.args ?? '';
    assert.match(user, /^[1-9]\d*(:[1-9]\d*)?$/, 'a numeric non-root USER (runAsNonRoot can verify it)');
    assert.ok(runtime.some((instruction) => instruction.keyword === 'EXPOSE' && instruction.args.split(/\s+/).includes('8080')));
    const entrypoint = JSON.parse(runtime.find((instruction) => instruction.keyword === 'ENTRYPOINT')?.args ?? '[]') as string[];
    assert.equal(entrypoint[0], 'tini');
    assert.deepEqual(entrypoint.slice(-2), ['node', '/app/dist/src/cli.cjs']);
    const healthcheck = runtime.find((instruction) => instruction.keyword === 'HEALTHCHECK')?.args ?? '';
    assert.match(healthcheck, /CMD \["node", "\/app\/healthcheck\.mjs"\]/);
    const env = runtime
      .filter((instruction) => instruction.keyword === 'ENV')
      .map((instruction) => instruction.args)
      .join(' ');
    assert.match(env, /SWITCHYARD_CONFIG=\/etc\/switchyard\/config\.toml/);
    assert.match(env, /SWITCHYARD_ADDRESS=0\.0\.0\.0:8080/);
  });

  test("builds llama-server from node-llama-cpp's llama.cpp bundle on the runtime's base and ships it", () => {
    const start = stages.findIndex((stage) => /\bAS llama-server$/i.test(stage.args));
    assert.ok(start >= 0, 'a stage named llama-server');
    assert.match(stages[start].args, /^\$\{BASE_IMAGE\} AS llama-server$/i, 'built on the runtime base: same C++ runtime and CUDA release');
    const from = instructions.indexOf(stages[start]);
    const end = instructions.indexOf(stages[start + 1]);
    const builder = instructions.slice(from, end);
    const runs = builder
      .filter((instruction) => instruction.keyword === 'RUN')
      .map((instruction) => instruction.args)
      .join('\n');
    const bundle = 'node_modules/node-llama-cpp/llama/gitRelease.bundle';
    assert.ok(
      builder.some((instruction) => instruction.keyword === 'COPY' && instruction.args.includes(`--from=deps /app/${bundle}`)),
      "the source is the bundle npm ci installs (the in-process engine's llama.cpp commit)",
    );
    assert.ok(existsSync(path.join(root, bundle)), `${bundle} exists in the installed node-llama-cpp`);
    // The CUDA toolkit of the base's own CUDA release, and a CPU build where the base has none.
    assert.match(runs, /if \[ -n "\$\{CUDA_VERSION:-\}" \]; then engine="-DGGML_CUDA=ON /);
    assert.match(runs, /cuda-minimal-build-\$release/);
    assert.match(runs, /\bcmake g\+\+ make git\b/, 'a compiler and cmake in the stage, whatever the base');
    assert.match(runs, /-DGGML_BACKEND_DL=ON/, 'a backend that cannot load (no GPU) is skipped rather than failing the binary');
    assert.match(runs, /-DGGML_NATIVE=OFF/, "not tuned to the build machine's CPU");
    assert.match(runs, /cmake --build build --target llama-server -j"\$\(nproc\)"/, 'only llama-server, on every core');
    assert.match(runs, /\/opt\/llama-server\/llama-server --version\s*$/, 'the stage fails unless the built binary starts');

    assert.ok(
      runtime.some((instruction) => instruction.keyword === 'COPY' && instruction.args === '--from=llama-server /opt/llama-server /opt/llama-server'),
      'the image ships the binary and its libraries',
    );
    const env = runtime
      .filter((instruction) => instruction.keyword === 'ENV')
      .map((instruction) => instruction.args)
      .join(' ');
    assert.match(env, /SWITCHYARD_LLAMA_SERVER=\/opt\/llama-server\/llama-server(\s|$)/);
    const runtimeRuns = runtime
      .filter((instruction) => instruction.keyword === 'RUN')
      .map((instruction) => instruction.args)
      .join('\n');
    assert.match(runtimeRuns, /\blibgomp1\b/, "llama-server's OpenMP runtime");
    assert.match(runtimeRuns, /ln -s \/opt\/llama-server\/llama-server \/usr\/local\/bin\/llama-server/, 'on PATH');
  });

  test('copies only files that exist and that .dockerignore lets into the context', () => {
    for (const copy of of('COPY').filter((instruction) => !instruction.args.includes('--from='))) {
      const sources = copy.args
        .split(/\s+/)
        .filter((word) => !word.startsWith('--'))
        .slice(0, -1);
      for (const source of sources) {
        // A pattern may match nothing (deploy/docker/prebuil[t]: a binary only the smoke test puts there).
        if (/[[*?]/.test(source)) {
          assert.ok(contextIncludes(path.dirname(source)), `${source}'s folder is in the build context`);
          continue;
        }
        assert.ok(existsSync(path.join(root, source)), `${source} exists`);
        assert.ok(contextIncludes(source.replace(/^\.\//, '').replace(/\/$/, '')), `${source} is in the build context`);
      }
    }
    for (const excluded of ['node_modules', 'dist', 'test', '.git', 'bench'])
      assert.equal(contextIncludes(excluded), false, `${excluded} stays out of the context`);
  });

  test("the image's default config is valid, serves on all interfaces only with a key, and stores responses on a writable volume", () => {
    const file = path.join(root, 'deploy', 'docker', 'config.toml');
    const saved = process.env.SWITCHYARD_API_KEY;
    process.env.SWITCHYARD_API_KEY = 'sk-image-test-key';
    try {
      const { config } = parseConfig(readFileSync(file, 'utf8'), file);
      assert.equal(config.api.address, '0.0.0.0:8080');
      assert.equal(config.api.require_auth, true);
      assert.equal(config.api.api_key_env, 'SWITCHYARD_API_KEY');
      for (const model of Object.values(config.api.models)) assert.match(String(model.path), /^\/models\//);
      // Stored responses go to the one folder the service user may write, a volume, whatever config is mounted.
      const { responseStore } = parseConfig(readFileSync(file, 'utf8'), file);
      assert.equal(responseStore.store, 'sqlite');
      const env = runtime
        .filter((instruction) => instruction.keyword === 'ENV')
        .map((instruction) => instruction.args)
        .join(' ');
      const dataDirectory = /SWITCHYARD_DATA_DIR=(\S+)/.exec(env)?.[1];
      assert.equal(dataDirectory, '/var/lib/switchyard');
      assert.equal(defaultResponseStorePath('/etc/switchyard', dataDirectory), '/var/lib/switchyard/responses.sqlite');
      assert.ok(
        of('VOLUME').some((volume) => (JSON.parse(volume.args) as string[]).includes('/var/lib/switchyard')),
        'a VOLUME at /var/lib/switchyard',
      );
      const user = runtime.find((instruction) => instruction.keyword === 'USER')?.args ?? '';
      const runtimeRuns = runtime.filter((instruction) => instruction.keyword === 'RUN').map((instruction) => instruction.args);
      assert.ok(
        runtimeRuns.some((run) => run.includes(`chown ${user} /var/lib/switchyard`)),
        'owned by the service user',
      );
    } finally {
      if (saved === undefined) delete process.env.SWITCHYARD_API_KEY;
      else process.env.SWITCHYARD_API_KEY = saved;
    }
  });
});

describe('deploy/docker/healthcheck.mjs', () => {
  const script = path.join(root, 'deploy', 'docker', 'healthcheck.mjs');
  let status = 200;
  const server = http.createServer((request, response) => {
    response.statusCode = request.url === '/health' ? status : 404;
    response.end(JSON.stringify({ status: status === 200 ? 'ok' : 'loading' }));
  });
  let port = 0;
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const run = (env: Record<string, string>) =>
    new Promise<{ code: number | null; output: string }>((resolve) => {
      execFile(process.execPath, [script], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 10_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
      );
    });

  test('exits 0 when /health answers 200', async () => {
    status = 200;
    const result = await run({ SWITCHYARD_ADDRESS: `127.0.0.1:${port}` });
    assert.equal(result.code, 0, result.output);
  });

  test('exits 1 while /health answers 503 (models loading)', async () => {
    status = 503;
    const result = await run({ SWITCHYARD_ADDRESS: `127.0.0.1:${port}` });
    assert.equal(result.code, 1, result.output);
  });

  test('turns a wildcard listen address into loopback', async () => {
    status = 200;
    // 0.0.0.0:PORT is where the gateway listens in the image; the check must dial 127.0.0.1:PORT.
    const result = await run({ SWITCHYARD_ADDRESS: `0.0.0.0:${port}` });
    assert.equal(result.code, 0, result.output);
  });

  test('exits 1 when nothing listens', async () => {
    const unusedPort = await freeLoopbackPort();
    const result = await run({ SWITCHYARD_ADDRESS: `127.0.0.1:${unusedPort}` });
    assert.equal(result.code, 1, result.output);
  });
});
