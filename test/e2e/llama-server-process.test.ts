// The llama-server engine's process, as the gateway supervises it: one process per model on a
// loopback port, stopped on unload and reload, restarted after a crash (the model `restarting`
// meanwhile, other models serving), `unavailable` after repeated crashes, and never left behind,
// even when the gateway itself is killed with SIGKILL. Bad settings are config errors.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { APIError } from 'openai';
import { spawnSync } from 'node:child_process';
import { INSTALLED_BINARY, locateLlamaServer } from '../../src/backends/llama-server/binary.js';
import { ConfigError, parseConfig } from '../../src/config/load-config.js';
import { fetchOnFreshConnection } from '../../src/upstream/fresh-connection.js';
import { startGatewayProcess } from '../helpers/gateway-process.js';
import { models } from '../helpers/paths.js';
import { startTestGateway } from '../helpers/test-gateway.js';
import { waitFor } from '../helpers/wait-for.js';

const ADMIN = 'sk-admin-llama-server-0';
const USER = 'sk-user-llama-server-0';

/** The binary the tests run: the one the gateway finds (SWITCHYARD_LLAMA_SERVER, else the install step's). */
const binary = locateLlamaServer(undefined, process.cwd())?.path;
const noBinary = binary === undefined ? `no llama-server binary: set SWITCHYARD_LLAMA_SERVER or build one with npm ci (${INSTALLED_BINARY})` : false;

function config(models: string, extra = '', engineKeys = ''): string {
  return `
[api]
require_auth = true
api_key = "${ADMIN}"
${extra}

[[api.keys]]
name = "user"
key = "${USER}"

[engines.llama_server]
binary = "${binary ?? '/nonexistent'}"
${engineKeys}
${models}
`;
}

function storyModel(id = 'story', context = 256, extra = ''): string {
  return `
[api.models.${id}]
path = "${models.stories}"
type = "completion"
backend = "llama-server"
context_length = ${context}
parallel = 2
threads = 1
${extra}
`;
}

interface ModelObject {
  id: string;
  metadata: { status: string; reason?: string; log_tail?: string[]; context_length?: number; details?: Record<string, unknown> };
}

async function modelList(url: string, key = ADMIN): Promise<ModelObject[]> {
  const response = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(response.status, 200);
  return ((await response.json()) as { data: ModelObject[] }).data;
}

async function modelObject(url: string, id: string, key = ADMIN): Promise<ModelObject> {
  const model = (await modelList(url, key)).find((candidate) => candidate.id === id);
  assert.ok(model, `model ${id} listed`);
  return model;
}

async function enginePid(url: string, id: string): Promise<number | undefined> {
  const pid = (await modelObject(url, id)).metadata.details?.pid;
  return typeof pid === 'number' ? pid : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function health(
  url: string,
  key?: string,
): Promise<{ status: string; models: Record<string, { status: string; reason?: string; log_tail?: string[] }> }> {
  const response = await fetch(`${url}/health`, key === undefined ? {} : { headers: { authorization: `Bearer ${key}` } });
  return (await response.json()) as never;
}

async function admin(url: string, action: string): Promise<Response> {
  return fetch(`${url}/v1/admin/${action}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
}

/** Local addresses the process listening on `port` is bound to, from /proc/net (Linux); undefined elsewhere. */
function listeningAddresses(port: number): string[] | undefined {
  const addresses: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      return undefined;
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      // 0A: LISTEN.
      if (local === undefined || state !== '0A' || Number.parseInt(local.split(':')[1], 16) !== port) continue;
      addresses.push(local.split(':')[0]);
    }
  }
  return addresses;
}

/** SIGKILLs the model's engine process and waits until a new one serves; returns the new pid. */
async function crashAndWaitForRestart(url: string, id: string): Promise<number> {
  const pid = await enginePid(url, id);
  assert.ok(pid !== undefined);
  process.kill(pid, 'SIGKILL');
  let next: number | undefined;
  await waitFor(
    async () => {
      const model = await modelObject(url, id);
      next = typeof model.metadata.details?.pid === 'number' ? model.metadata.details.pid : undefined;
      return model.metadata.status === 'ready' && next !== undefined && next !== pid;
    },
    60_000,
    `model ${id} serving again after a crash`,
  );
  return next!;
}

describe('llama-server engine: the process', { skip: noBinary }, () => {
  test('loads on loopback only; /v1/models names the engine, its version and build; unload, load and reload stop the old process', async () => {
    const gateway = await startTestGateway(config(storyModel()), { apiKey: ADMIN });
    let last: number | undefined;
    try {
      const model = await modelObject(gateway.url, 'story');
      assert.equal(model.metadata.status, 'ready');
      const details = model.metadata.details!;
      assert.equal(details.engine, 'llama-server');
      assert.match(String(details.engineVersion), /\S/);
      assert.equal(details.binary, binary);
      // llama-server's -c is shared by its slots: each of the two gets the 256 tokens configured.
      assert.equal(model.metadata.context_length, 256);

      // A key that is not an admin's sees the engine, not the host's paths and processes.
      const userView = await modelObject(gateway.url, 'story', USER);
      assert.equal(userView.metadata.details?.engine, 'llama-server');
      assert.equal(userView.metadata.details?.binary, undefined);
      assert.equal(userView.metadata.details?.pid, undefined);

      const address = String(details.address);
      assert.match(address, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await fetch(`${address}/health`)).status, 200);
      const port = Number(new URL(address).port);
      const bound = listeningAddresses(port);
      if (bound !== undefined) assert.deepEqual(bound, ['0100007F'], `port ${port} is bound to 127.0.0.1 alone`);
      assert.ok(gateway.logs.some((record) => record.msg === 'llama-server serving' && record.model === 'story'));

      const first = details.pid as number;
      assert.ok(alive(first));
      assert.equal((await admin(gateway.url, 'models/story/unload')).status, 200);
      await waitFor(() => !alive(first), 15_000, 'the unloaded model’s process to end');
      assert.equal((await modelObject(gateway.url, 'story')).metadata.status, 'unloaded');

      assert.equal((await admin(gateway.url, 'models/story/load')).status, 200);
      const second = await enginePid(gateway.url, 'story');
      assert.ok(second !== undefined && second !== first && alive(second));

      // A changed model starts a new process, which takes over; the old one ends.
      writeFileSync(gateway.configFile, config(storyModel('story', 512)));
      assert.equal((await admin(gateway.url, 'reload')).status, 200);
      const third = await enginePid(gateway.url, 'story');
      assert.ok(third !== undefined && third !== second);
      assert.equal((await modelObject(gateway.url, 'story')).metadata.context_length, 512);
      await waitFor(() => !alive(second), 15_000, 'the replaced process to end');
      last = third;
    } finally {
      await gateway.close();
    }
    // Shutdown stops it too.
    assert.ok(last !== undefined && !alive(last));
  });

  test('a crash: the model shows `restarting` (503 engine_unavailable with Retry-After) while another model answers, then serves again', async () => {
    const gateway = await startTestGateway(
      config(`${storyModel('crashy')}
[api.models.steady]
path = "${models.stories}"
type = "completion"
context_length = 256
threads = 1
`),
      { apiKey: ADMIN },
    );
    try {
      const pid = await enginePid(gateway.url, 'crashy');
      assert.ok(pid !== undefined);
      process.kill(pid, 'SIGKILL');
      await waitFor(async () => (await health(gateway.url)).models.crashy.status === 'restarting', 10_000, 'the model to show restarting');
      const refused = await fetch(`${gateway.url}/v1/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'crashy', prompt: 'Once upon a time', max_tokens: 4 }),
      });
      assert.equal(refused.status, 503);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'engine_unavailable');
      // The other model, and the gateway, go on serving.
      const answer = await gateway.client.completions.create({ model: 'steady', prompt: 'Once upon a time', max_tokens: 4 });
      assert.equal(answer.choices.length, 1);

      await waitFor(async () => (await health(gateway.url)).models.crashy.status === 'ready', 30_000, 'the model to serve again');
      const restarted = await enginePid(gateway.url, 'crashy');
      assert.ok(restarted !== undefined && restarted !== pid && alive(restarted));
      assert.equal((await health(gateway.url)).status, 'ok');
    } finally {
      await gateway.close();
    }
  });

  test('repeated crashes: the model becomes `unavailable`, with the exit and the last log lines for admins', async () => {
    const gateway = await startTestGateway(config(storyModel('crashy')), { apiKey: ADMIN });
    try {
      // Four crashes are restarted (after 0.5, 1, 2 and 4 s); the fifth within five minutes is not.
      for (let crash = 1; crash <= 4; crash++) await crashAndWaitForRestart(gateway.url, 'crashy');
      const last = await enginePid(gateway.url, 'crashy');
      process.kill(last!, 'SIGKILL');
      await waitFor(async () => (await health(gateway.url)).models.crashy.status === 'unavailable', 10_000, 'the model to become unavailable');

      const forAdmin = await health(gateway.url, ADMIN);
      assert.equal(forAdmin.status, 'degraded');
      assert.match(forAdmin.models.crashy.reason!, /5 times/);
      assert.match(forAdmin.models.crashy.reason!, /SIGKILL/);
      assert.ok(forAdmin.models.crashy.log_tail!.length > 0);
      const forPublic = await health(gateway.url);
      assert.equal(forPublic.models.crashy.reason, undefined);
      assert.equal(forPublic.models.crashy.log_tail, undefined);
      const forUser = await modelObject(gateway.url, 'crashy', USER);
      assert.match(forUser.metadata.reason!, /SIGKILL/);
      assert.equal(forUser.metadata.log_tail, undefined);
      assert.ok((await modelObject(gateway.url, 'crashy')).metadata.log_tail!.length > 0);
      assert.ok(!alive(last!));

      // An admin's load starts it afresh.
      assert.equal((await admin(gateway.url, 'models/crashy/load')).status, 200);
      assert.equal((await modelObject(gateway.url, 'crashy')).metadata.status, 'ready');
    } finally {
      await gateway.close();
    }
  });

  test('SIGKILL of the gateway leaves no llama-server process behind', async () => {
    const gateway = await startGatewayProcess(config(storyModel()));
    let pid: number | undefined;
    try {
      await waitFor(async () => (await fetch(`${gateway.url}/ready`)).status === 200, 60_000, 'the gateway to be ready');
      pid = await enginePid(gateway.url, 'story');
      assert.ok(pid !== undefined && alive(pid));
    } finally {
      await gateway.stop('SIGKILL');
    }
    // The watcher sends SIGTERM at once, and SIGKILL 5 s later if that was not enough.
    await waitFor(() => !alive(pid!), 15_000, `llama-server (pid ${pid}) to end with its gateway`);
  });

  test('a model whose process cannot start is unavailable, with the engine’s own words', async () => {
    const gateway = await startTestGateway(config(storyModel('broken', 256, 'extra_args = ["--no-such-flag"]')), { apiKey: ADMIN });
    try {
      const model = await modelObject(gateway.url, 'broken');
      assert.equal(model.metadata.status, 'unavailable');
      assert.match(model.metadata.reason!, /did not start/);
      assert.match(model.metadata.reason!, /no-such-flag/);
    } finally {
      await gateway.close();
    }
  });
});

/** Probes tight enough for a test to see a hung process killed in a few seconds. */
const QUICK_LIVENESS = `
health_check_interval_seconds = 0.5
health_check_timeout_seconds = 2
health_check_failures = 2
`;

/** The stream's outcome: 'finished', or the error it ended with; fails past `timeoutMs` (a stream that hangs). */
async function streamOutcome(stream: AsyncIterable<unknown>, timeoutMs: number, onChunk: (index: number) => void = () => undefined): Promise<unknown> {
  const read = (async () => {
    let index = 0;
    try {
      for await (const _ of stream) onChunk(index++);
      return 'finished';
    } catch (error) {
      return error;
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`the stream neither ended nor failed within ${timeoutMs} ms`)), timeoutMs)),
  );
  try {
    return await Promise.race([read, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('llama-server engine: a process that stops answering', { skip: noBinary }, () => {
  test('a hung process (SIGSTOP): the stream in flight ends with an error event, the model restarts, the next request succeeds', async () => {
    const gateway = await startTestGateway(config(storyModel('hung', 2048), '', QUICK_LIVENESS), { apiKey: ADMIN });
    const pid = await enginePid(gateway.url, 'hung');
    assert.ok(pid !== undefined);
    try {
      const stream = await gateway.client.completions.create({ model: 'hung', prompt: 'Once upon a time', max_tokens: 1800, temperature: 1, stream: true });
      let stoppedAt = 0;
      const outcome = await streamOutcome(stream, 30_000, (index) => {
        if (index !== 0) return;
        process.kill(pid, 'SIGSTOP');
        stoppedAt = Date.now();
      });
      assert.ok(outcome instanceof APIError, `the stream ended with an error event, not ${String(outcome)}`);
      // Two probes of 2 s, 0.5 s apart: found hung within seconds, even on a busy machine.
      assert.ok(Date.now() - stoppedAt < 20_000, `error after ${Date.now() - stoppedAt} ms`);
      await waitFor(async () => (await health(gateway.url)).models.hung.status === 'restarting', 10_000, 'the model to show restarting');
      const reason = (await health(gateway.url, ADMIN)).models.hung.reason ?? '';
      assert.match(reason, /not answering/);
      assert.ok(gateway.logs.some((record) => record.msg === 'llama-server is not answering; killing it' && record.model === 'hung'));

      await waitFor(async () => (await health(gateway.url)).models.hung.status === 'ready', 30_000, 'the model to serve again');
      // It was killed, not resumed: a new process serves.
      assert.ok(!alive(pid));
      const restarted = await enginePid(gateway.url, 'hung');
      assert.ok(restarted !== undefined && restarted !== pid);
      const answer = await gateway.client.completions.create({ model: 'hung', prompt: 'Once upon a time', max_tokens: 8 });
      assert.equal(answer.choices.length, 1);
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      await gateway.close();
    }
  });

  test('busy is not hung: four long streams on one slot all finish, the process is never killed', async () => {
    // A probe every 0.25 s that must answer 200 within 5 s (5 s: on a shared 2-core machine a
    // healthy /health was seen to take 2 s): an answer that waited for a free slot, or a 503 "no
    // slot available" as older llama-servers gave, would trip it within a second or two.
    const gateway = await startTestGateway(
      config(
        `
[api.models.busy]
path = "${models.stories}"
type = "completion"
backend = "llama-server"
context_length = 2048
parallel = 1
threads = 1
`,
        '',
        'health_check_interval_seconds = 0.25\nhealth_check_timeout_seconds = 5\nhealth_check_failures = 2',
      ),
      { apiKey: ADMIN },
    );
    try {
      const pid = await enginePid(gateway.url, 'busy');
      const address = String((await modelObject(gateway.url, 'busy')).metadata.details?.address);
      const started = Date.now();
      let running = true;
      const slowest = { ms: 0, probes: 0 };
      const prober = (async () => {
        while (running) {
          const sent = Date.now();
          // A connection per probe: llama-server closes idle kept-alive ones, which is not what is measured here.
          const response = await fetchOnFreshConnection(`${address}/health`, { method: 'GET', headers: {} }, AbortSignal.timeout(10_000));
          assert.equal(response.status, 200);
          await response.arrayBuffer();
          slowest.ms = Math.max(slowest.ms, Date.now() - sent);
          slowest.probes++;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();
      const outcomes = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const stream = await gateway.client.completions.create({ model: 'busy', prompt: 'Once upon a time', max_tokens: 1800, temperature: 1, stream: true });
          return streamOutcome(stream, 120_000);
        }),
      );
      const busyMs = Date.now() - started;
      running = false;
      await prober;
      assert.deepEqual(outcomes, ['finished', 'finished', 'finished', 'finished']);
      // Long enough for many of the gateway's probes to have run against a busy slot.
      assert.ok(busyMs > 2_000, `the load lasted ${busyMs} ms`);
      assert.ok(slowest.probes > 5 && slowest.ms < 5_000, `/health under load: ${JSON.stringify(slowest)}`);
      assert.equal(await enginePid(gateway.url, 'busy'), pid);
      assert.equal((await health(gateway.url)).models.busy.status, 'ready');
      assert.ok(!gateway.logs.some((record) => record.msg === 'llama-server health check failed'));
    } finally {
      await gateway.close();
    }
  });

  test('repeated failures that end in a hang: `unavailable`, "not answering" in /health and /v1/models for admins', async () => {
    const gateway = await startTestGateway(config(storyModel('hung'), '', QUICK_LIVENESS), { apiKey: ADMIN });
    let last: number | undefined;
    try {
      for (let crash = 1; crash <= 4; crash++) await crashAndWaitForRestart(gateway.url, 'hung');
      last = await enginePid(gateway.url, 'hung');
      process.kill(last!, 'SIGSTOP');
      await waitFor(async () => (await health(gateway.url)).models.hung.status === 'unavailable', 20_000, 'the model to become unavailable');
      assert.match((await health(gateway.url, ADMIN)).models.hung.reason!, /5 times.*not answering/);
      assert.match((await modelObject(gateway.url, 'hung')).metadata.reason!, /not answering/);
      assert.ok(!alive(last!));
    } finally {
      if (last !== undefined && alive(last)) process.kill(last, 'SIGKILL');
      await gateway.close();
    }
  });

  test('a process that never becomes ready within load_timeout_seconds is killed, and the model is unavailable', async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'switchyard-stuck-'));
    const pidFile = path.join(folder, 'pid');
    // The real binary, stopped before it starts: alive, never answering.
    const stuck = path.join(folder, 'llama-server');
    await writeFile(
      stuck,
      `#!/bin/sh
case "$1" in --version|--list-devices) exec "${binary}" "$@";; esac
echo $$ > "${pidFile}"
kill -STOP $$
exec "${binary}" "$@"
`,
      { mode: 0o755 },
    );
    const started = Date.now();
    const gateway = await startTestGateway(config(storyModel('stuck'), '', 'load_timeout_seconds = 2').replace(`binary = "${binary}"`, `binary = "${stuck}"`), {
      apiKey: ADMIN,
    });
    const pid = Number(readFileSync(pidFile, 'utf8'));
    try {
      // Killed at once (SIGKILL): a stopped process would sit out a SIGTERM's grace.
      assert.ok(Date.now() - started < 10_000, `load ended after ${Date.now() - started} ms`);
      const model = await modelObject(gateway.url, 'stuck');
      assert.equal(model.metadata.status, 'unavailable');
      assert.match(model.metadata.reason!, /did not become ready within 2 s/);
      assert.ok(!alive(pid));
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      await gateway.close();
    }
  });
});

describe('llama-server engine: configuration errors', () => {
  async function configFile(text: string): Promise<string> {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'switchyard-llama-server-')), 'config.toml');
    await writeFile(file, text);
    return file;
  }

  function problemsOf(text: string, file = '/tmp/config.toml'): Array<{ keyPath: string; message: string }> {
    try {
      parseConfig(text, file);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  }

  test('a binary that does not exist is an error naming [engines.llama_server] binary', () => {
    const problems = problemsOf(`
[engines.llama_server]
binary = "/nonexistent/llama-server"
`);
    assert.equal(problems.length, 1);
    assert.equal(problems[0].keyPath, 'engines.llama_server.binary');
    assert.match(problems[0].message, /\/nonexistent\/llama-server does not exist/);
  });

  test('the health check and load timeout keys must be positive (failures: a whole number); the error names the key', () => {
    for (const [key, value, expected] of [
      ['health_check_interval_seconds', '0', /expected a value > 0, found the integer 0/],
      ['health_check_timeout_seconds', '-1', /expected a value > 0, found the integer -1/],
      ['health_check_failures', '1.5', /expected an integer, found the number 1.5/],
      ['health_check_failures', '0', /expected a value >= 1/],
      ['load_timeout_seconds', '"60"', /expected a number, found the string/],
    ] as const) {
      const problems = problemsOf(`[engines.llama_server]\n${key} = ${value}\n`);
      assert.equal(problems.length, 1, `${key} = ${value}`);
      assert.equal(problems[0].keyPath, `engines.llama_server.${key}`);
      assert.match(problems[0].message, expected);
    }
    assert.deepEqual(problemsOf('[engines.llama_server]\nhealth_check_interval_seconds = 2.5\nhealth_check_failures = 4\nload_timeout_seconds = 600\n'), []);
  });

  test('extra_args may not hold the flags the gateway owns; the error names the key and the flag', () => {
    for (const flag of [
      '--port',
      '--host',
      '-m',
      '--model',
      '--api-key',
      '--api_key_file',
      '--mmproj',
      '-md',
      '--embeddings',
      '--reranking',
      '-hf',
      '--ssl-key-file',
      '-c',
      '-np',
    ]) {
      const problems = problemsOf(
        `[engines.llama_server]\nbinary = "${process.execPath}"\n${storyModel('story', 256, `extra_args = ["--flash-attn", "on", "${flag}", "x"]`)}`,
      );
      assert.equal(problems.length, 1, flag);
      assert.equal(problems[0].keyPath, 'api.models.story.extra_args.2');
      assert.ok(problems[0].message.includes(flag), problems[0].message);
    }
    assert.deepEqual(
      problemsOf(`[engines.llama_server]\nbinary = "${process.execPath}"\n${storyModel('story', 256, 'extra_args = ["--flash-attn", "on", "-ub", "64"]')}`),
      [],
    );
  });

  test('mmproj, draft_model and pooling only on the model types that use them', () => {
    const problems = problemsOf(`[engines.llama_server]\nbinary = "${process.execPath}"\n${storyModel('story', 256, 'mmproj = "p.gguf"\npooling = "mean"')}`);
    assert.deepEqual(
      problems.map((problem) => problem.keyPath),
      ['api.models.story.mmproj', 'api.models.story.pooling'],
    );
  });

  test('without a binary, the environment variable that names a missing one is an error naming the model’s backend', async () => {
    const file = await configFile(storyModel());
    const result = spawnSync(process.execPath, ['dist/src/cli.cjs', 'validate', '--config', file], {
      env: { ...process.env, SWITCHYARD_LLAMA_SERVER: '/nonexistent/llama-server' },
      encoding: 'utf8',
    });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /api\.models\.story\.backend: .*SWITCHYARD_LLAMA_SERVER.*\/nonexistent\/llama-server does not exist/);
  });
});
